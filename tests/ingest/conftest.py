"""Fixtures for the file-ingest tests: the layer catalog, an isolated county polygon, files
written with geopandas, and cleanup of every row these tests create (sources "test:ingest:*"
and "file:test_ingest_*")."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.catalog.layers import LayerCatalog, load_catalog
from backend.db.models import FEATURE_TABLES
from backend.ingest.files import ingest_file
from backend.ingest.report import IngestResult
from backend.settings import Settings
from tests.camera_codes import code_for

# A simple box around Sixian (117.6-118.2E, 33.27-33.77N): isolated from any loaded county.
COUNTY = shapely.box(117.6, 33.27, 118.2, 33.77)
TABLES = [m.__tablename__ for m in FEATURE_TABLES]
OURS = "source LIKE 'test:ingest:%' OR source LIKE 'file:test_ingest_%'"

Ingest = Callable[..., IngestResult]


@pytest.fixture(scope="session")
def catalog(settings: Settings) -> LayerCatalog:
    return load_catalog(settings.layers_dir)


@pytest.fixture(autouse=True)
def _cleanup(engine: Engine) -> Iterator[None]:
    yield
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(sa.text(f'DELETE FROM "{table}" WHERE {OURS}'))


@pytest.fixture
def ingest(engine: Engine, catalog: LayerCatalog) -> Ingest:
    return functools.partial(ingest_file, engine, catalog, county_geom=COUNTY, progress=False)


@pytest.fixture
def src(request: pytest.FixtureRequest) -> str:
    return f"test:ingest:{request.node.name}"


def cameras(
    n: int, *, x0: float = 117.9, y0: float = 33.5, prefix: str = "TST"
) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [code_for(f"{prefix}-{i:03d}") for i in range(n)],
            "name": [f"路口{i}号" for i in range(n)],
            "kind": ["tianwang", "xueliang", "traffic"] * (n // 3) + ["tianwang"] * (n % 3),
            "status": ["online"] * n,
            "direction_deg": [float(i * 10) for i in range(n)],
        },
        geometry=[shapely.Point(x0 + i * 0.001, y0 + i * 0.0005) for i in range(n)],
        crs=4326,
    )


def write_shapefile(frame: gpd.GeoDataFrame, path: Path) -> None:
    """GDAL cuts field names to 10 characters, as every Shapefile writer must: no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame.to_file(path, encoding="UTF-8")


def parcel(code: str, poly: shapely.Polygon, **extra: Any) -> dict[str, Any]:
    return {"parcel_code": code, "land_use": "0701", "area_m2": 1000.0, "ownership": "国有",
            "geometry": poly, **extra}


def square(x: float, y: float, d: float = 0.001) -> shapely.Polygon:
    return shapely.box(x, y, x + d, y + d)


def snapshot(engine: Engine, table: str) -> tuple[int, str | None]:
    """Row count and a checksum of every row's full text (geometry included)."""
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            f'SELECT count(*), md5(string_agg(t::text, \'|\' ORDER BY t.id)) FROM "{table}" t'
        )).one())  # type: ignore[return-value]


def version(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        v = conn.execute(sa.text("SELECT version FROM layer_versions WHERE table_name = :t"),
                         {"t": table}).scalar()
    return int(v or 0)


def stored(engine: Engine, table: str, source: str, columns: str = "") -> dict[str, Any]:
    """source_key -> row of one source, with `geom` as a shapely geometry."""
    extra = f", {columns}" if columns else ""
    with engine.connect() as conn:
        result = conn.execute(sa.text(
            f'SELECT source_key, ST_AsBinary(geom) AS wkb, updated_at{extra} FROM "{table}" '
            "WHERE source = :s"
        ), {"s": source})
        out = {}
        for r in result:
            row = r._asdict()
            row["geom"] = shapely.from_wkb(bytes(row.pop("wkb")))
            out[r.source_key] = row
        return out
