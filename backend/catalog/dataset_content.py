"""The datasets whose content the demo generates (scenarios/sixian/catalog/content.yaml), read
strictly for backend.simulation.dataset_content and the arrivals' tests. Only the `datasets`
part matters here; the catalog sync (backend/catalog/data_catalog.py) reads the rest."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from backend.catalog.strict import Strict, read_yaml
from backend.settings import PROJECT_ROOT

CATALOG_DIR = PROJECT_ROOT / "scenarios" / "sixian" / "catalog"
DataType = Literal["string", "integer", "number", "date", "datetime", "boolean"]


class Annex(Strict):
    department: str
    name: str


class ContentField(Strict):
    name: str
    zh: str
    type: DataType
    required: bool = False
    kind: str | None = None
    values: list[str] | None = None
    range: tuple[float, float] | None = None
    regex: str | None = None
    authority: str | None = None
    link: str | None = None


class ContentDataset(Strict):
    id: str
    annex: Annex
    en: str
    key: str
    rows: int = Field(ge=1)
    update_cycle: str
    share_type: str
    geometry: Literal["point", "line", "polygon"] | None = None
    coverage: bool = False
    open: bool = False
    stale: bool = False
    fields: list[ContentField]
    plant: dict[str, Any] = Field(default_factory=dict)

    def field(self, name: str) -> ContentField:
        return next(f for f in self.fields if f.name == name)


class LayerEntry(Strict):
    layer: str
    annex: Annex


class ContentFile(Strict):
    datasets: list[ContentDataset]
    layers: list[LayerEntry] = Field(default_factory=list)


def load_content(directory: Path = CATALOG_DIR) -> list[ContentDataset]:
    return list(_load(directory).datasets)


@lru_cache(maxsize=4)
def _load(directory: Path) -> ContentFile:
    return read_yaml(directory / "content.yaml", ContentFile, "content.yaml")


def department_codes(directory: Path = CATALOG_DIR) -> dict[str, str]:
    """{annex department name: code}: which department provides a content dataset."""
    import yaml

    raw = yaml.safe_load((directory / "departments.yaml").read_text(encoding="utf-8"))
    return {d["annex"]: d["code"] for d in raw["departments"] if d.get("annex")}
