"""Which catalog datasets feed the population base and how their fields map onto a person
(scenarios/sixian/catalog/population_sources.yaml), read strictly for backend.people.load.
Only this package reads scenarios/ (import rule 4)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from backend.catalog.dataset_content import CATALOG_DIR
from backend.catalog.strict import Strict, read_yaml

FILE = "population_sources.yaml"
Column = Literal["citizen_id", "name", "sex", "birth_date", "ethnicity", "phone",
                 "registered_region", "registered_address", "household_no", "household_kind",
                 "relation", "building_id", "building_label", "unit"]
Status = Literal["resident", "registered_elsewhere", "moved", "deceased"]
REQUIRED: tuple[Column, ...] = ("citizen_id", "name", "sex", "birth_date")


class StatusRule(Strict):
    field: str | None = None
    map: dict[str, Status] = Field(default_factory=dict)
    fixed: Status | None = None

    @model_validator(mode="after")
    def _one(self) -> StatusRule:
        if (self.field is None) == (self.fixed is None) or (self.field and not self.map):
            raise ValueError("status: give either `field` with its `map`, or `fixed`")
        return self


class PopulationSource(Strict):
    dataset: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    fields: dict[Column, str]
    fixed: dict[Column, str] = Field(default_factory=dict)
    status: StatusRule

    @model_validator(mode="after")
    def _required(self) -> PopulationSource:
        missing = [c for c in REQUIRED if c not in self.fields]
        if missing:
            raise ValueError(f"fields: {', '.join(missing)} must come from the dataset")
        return self


class AnnexName(Strict):
    department: str
    name: str


class BaseView(Strict):
    """An annex entry whose data is the base itself (no rows of its own)."""

    annex: AnnexName
    statuses: list[Status] = Field(min_length=1)
    summary: str = Field(min_length=1)


class PopulationSourcesFile(Strict):
    sources: list[PopulationSource] = Field(min_length=1)
    views: list[BaseView] = Field(default_factory=list)


@lru_cache(maxsize=4)
def load_population_sources(directory: Path = CATALOG_DIR) -> PopulationSourcesFile:
    return read_yaml(directory / FILE, PopulationSourcesFile, FILE)


def source_of(dataset_id: str, directory: Path = CATALOG_DIR) -> PopulationSource | None:
    return next((s for s in load_population_sources(directory).sources
                 if s.dataset == dataset_id), None)
