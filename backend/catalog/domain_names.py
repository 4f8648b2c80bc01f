"""The names the domain datasets' generator uses (scenarios/sixian/domains_data/names.yaml: real
Sixian places where known, with PROVENANCE.md beside it) and the departments' full names, read
strictly for backend.simulation.domain_data."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field

from backend.catalog.data_catalog import DEPARTMENTS_FILE, DepartmentsFile
from backend.catalog.dataset_content import CATALOG_DIR
from backend.catalog.strict import Strict, read_yaml
from backend.settings import PROJECT_ROOT

NAMES_FILE = PROJECT_ROOT / "scenarios" / "sixian" / "domains_data" / "names.yaml"
TownshipSuffix = Annotated[str, Field(pattern=r"^[0-9]{3}$")]  # the code after 341324


class SpotName(Strict):
    name: str = Field(min_length=1)
    kind: str
    grade: str | None = None
    township: TownshipSuffix
    capacity: int = Field(ge=0)
    daily: int = Field(ge=0)   # a working day's visitors in the season (the flow's scale)
    real: bool


class ServiceItem(Strict):
    name: str = Field(min_length=1)
    department: str
    days: int = Field(ge=1, le=20)   # 承诺时限, working days
    weight: float = Field(gt=0)


class DomainNames(Strict):
    scenic_spots: list[SpotName] = Field(min_length=1)
    service_items: list[ServiceItem] = Field(min_length=1)
    relocation_projects: list[str] = Field(min_length=1)
    housing_projects: list[str] = Field(min_length=1)


@lru_cache(maxsize=2)
def load_domain_names(path: Path = NAMES_FILE) -> DomainNames:
    return read_yaml(path, DomainNames, "domains_data/names.yaml")


@lru_cache(maxsize=2)
def department_names(directory: Path = CATALOG_DIR) -> dict[str, str]:
    """{code: full name} of departments.yaml, the data bureau included."""
    doc = read_yaml(directory / DEPARTMENTS_FILE, DepartmentsFile, DEPARTMENTS_FILE)
    return {d.code: d.name for d in doc.departments} | {doc.bureau.code: doc.bureau.name}
