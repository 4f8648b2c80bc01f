"""The quality weights file (`scenarios/<county>/catalog/quality_weights.yaml`): the weights
of the five score dimensions, the catalogue items a metadata-only record is scored on, the days
each update cycle allows and the working days a quality task may stay open, validated
strictly."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from backend.catalog.strict import CatalogError, Strict, read_yaml

DIMENSIONS = ("completeness", "validity", "consistency", "timeliness", "geometry")
CYCLES = ("realtime", "daily", "weekly", "monthly", "quarterly", "half_yearly", "yearly")
RECORD_ITEMS = ("summary", "fields", "resource_format", "share_condition", "share_method",
                "update_cycle", "published_on", "keywords", "class_code", "name_en")
FILE = "quality_weights.yaml"

Weight = Annotated[float, Field(ge=0, le=100)]
Days = Annotated[int, Field(ge=1, le=3660)]


class QualityWeightsError(CatalogError):
    """The weights file is invalid (or missing): 'file: key: what was expected'."""


class Weights(Strict):
    completeness: Weight
    validity: Weight
    consistency: Weight
    timeliness: Weight
    geometry: Weight


class TaskDays(Strict):
    completeness: Days
    validity: Days
    consistency: Days
    timeliness: Days
    geometry: Days


class QualityWeights(Strict):
    weights: Weights
    record_items: Annotated[list[Literal[RECORD_ITEMS]], Field(min_length=1)]  # type: ignore[valid-type]
    cycle_days: dict[Literal[CYCLES], Days]  # type: ignore[valid-type]
    task_days: TaskDays

    @model_validator(mode="after")
    def _complete(self) -> QualityWeights:
        if sum(getattr(self.weights, d) for d in DIMENSIONS) <= 0:
            raise ValueError("weights: at least one dimension needs a weight above 0")
        missing = [c for c in CYCLES if c not in self.cycle_days]
        if missing:
            raise ValueError(f"cycle_days: missing {', '.join(missing)}")
        return self

    def weight(self, dimension: str) -> float:
        return float(getattr(self.weights, dimension))

    def task_working_days(self, dimension: str) -> int:
        return int(getattr(self.task_days, dimension))


def load_quality_weights(catalog_dir: Path) -> QualityWeights:
    """The weights file of a catalog folder, or QualityWeightsError naming the problem."""
    return read_yaml(catalog_dir / FILE, QualityWeights, FILE, QualityWeightsError)


@lru_cache(maxsize=4)
def quality_weights(catalog_dir: Path) -> QualityWeights:
    """Cached: the file is read once per process."""
    return load_quality_weights(catalog_dir)
