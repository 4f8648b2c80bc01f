"""Helpers of the dataset-layer and wall tests: write a version of a content dataset through
the version store (backend.datasets.store), as every arrival path does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry

from backend.datasets.store import Row, VersionOutcome, write_version


def ewkb(geom: BaseGeometry | None) -> str | None:
    if geom is None:
        return None
    return shapely.to_wkb(shapely.set_srid(geom, 4326), hex=True, include_srid=True)


def write_rows(engine: sa.Engine, dataset_id: str, key: str,
               rows: Sequence[tuple[Mapping[str, Any], BaseGeometry | None]]) -> VersionOutcome:
    """A full version of `dataset_id` holding `rows` ((data, geometry), keyed by data[key]),
    committed (the NOTIFY of the new current version fires on commit)."""
    with engine.begin() as conn:
        outcome = write_version(
            conn, dataset_id=dataset_id, arrival="file", actor="tester", source="test.csv",
            rows=[Row(str(data[key]), dict(data), ewkb(geom)) for data, geom in rows])
    assert outcome.status == "accepted", outcome.report
    return outcome
