"""The datasets whose content the demo generates (scenarios/sixian/catalog/content.yaml), read
strictly for backend.simulation.dataset_content and the arrivals' tests. Only the `datasets`
part matters here; the catalog sync (backend/catalog/data_catalog.py) reads the rest with the
same models."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from backend.catalog.layers import SHARE_TYPES, UPDATE_CYCLES
from backend.catalog.sources import IDENT
from backend.catalog.strict import Strict, read_yaml
from backend.privacy.policy import Kind
from backend.settings import PROJECT_ROOT

CATALOG_DIR = PROJECT_ROOT / "scenarios" / "sixian" / "catalog"
DataType = Literal["string", "integer", "number", "date", "datetime", "boolean"]


class AnnexRef(Strict):
    department: str = Field(min_length=1)
    name: str = Field(min_length=1)


class ContentField(Strict):
    name: Annotated[str, Field(pattern=IDENT)]
    zh: str = Field(min_length=1)
    type: DataType
    required: bool = False
    kind: Kind | None = None
    values: list[str | int] | None = None
    range: tuple[float, float] | None = None
    regex: str | None = None
    authority: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")] | None = None
    link: Annotated[str, Field(pattern=IDENT)] | None = None


class ContentDataset(Strict):
    id: Annotated[str, Field(pattern=IDENT)]
    # The annex row this dataset is; a dataset the annex lacks gives its department's code
    # (departments.yaml) and its name instead (issue 14: the domain datasets, the duty roster).
    annex: AnnexRef | None = None
    department: str | None = None
    name: str | None = None
    en: str = Field(min_length=1)
    key: Annotated[str, Field(pattern=IDENT)]
    rows: int = Field(ge=1)
    geometry: Literal["point", "line", "polygon"] | None = None
    coverage: bool = False
    update_cycle: UPDATE_CYCLES
    share_type: SHARE_TYPES
    open: bool = False
    stale: bool = False
    fields: list[ContentField] = Field(min_length=1)
    plant: dict[str, Any] = {}
    # Who writes the demo's content: the generic generator (backend.simulation.dataset_content)
    # or the domains' (backend.simulation.domain_data: coherent figures, real names, files
    # loaded through the upload path).
    generator: Literal["content", "domains"] = "content"

    @model_validator(mode="after")
    def _annex_or_department(self) -> ContentDataset:
        if (self.annex is None) == (self.department is None):
            raise ValueError("give exactly one of annex (the annex row) or department (a code)")
        if self.department is not None and not self.name:
            raise ValueError("a dataset outside the annex needs its name")
        return self

    @property
    def title(self) -> str:
        """Its name: the annex row's, or its own outside the annex."""
        return self.annex.name if self.annex is not None else str(self.name)

    def field(self, name: str) -> ContentField:
        return next(f for f in self.fields if f.name == name)


class LayerEntry(Strict):
    layer: Annotated[str, Field(pattern=IDENT)]
    annex: AnnexRef


class ContentFile(Strict):
    datasets: list[ContentDataset]
    layers: list[LayerEntry] = []


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


def content_by_id(directory: Path = CATALOG_DIR) -> dict[str, ContentDataset]:
    return {d.id: d for d in _load(directory).datasets}


def field_types(dataset_id: str, directory: Path = CATALOG_DIR) -> dict[str, str]:
    """{field: declared type (DataType)} of a content dataset: how a `dataset` layer types the
    values it reads from the rows' JSON (numbers stay numbers in tiles and features)."""
    return {f.name: f.type for f in content_by_id(directory)[dataset_id].fields}


def check_dataset_layer(label: str, spec: Any, datasets: dict[str, ContentDataset]) -> list[str]:
    """Problems of a `dataset` layer (a LayerSpec) against content.yaml: the dataset exists and
    has the layer's geometry, every field is one of its fields, and a field the dataset marks
    personal is marked the same in the layer (so it never reaches a shared tile)."""
    name = spec.source.dataset
    d = datasets.get(name)
    if d is None:
        return [f"{label}: source.dataset: no dataset {name!r} in content.yaml; known: "
                f"{', '.join(sorted(datasets))}"]
    out = []
    if d.geometry is None:
        out.append(f"{label}: source.dataset: {name} has no geometry: it cannot be a map layer")
    elif spec.geometry != d.geometry:
        out.append(f"{label}: geometry: {name} holds {d.geometry}s, not {spec.geometry}s")
    fields = {f.name: f for f in d.fields}
    for i, f in enumerate(spec.fields):
        known = fields.get(f.name)
        if known is None:
            out.append(f"{label}: fields.{i}.name: {name} has no field {f.name!r}; its fields: "
                       f"{', '.join(fields)}")
        elif known.kind is not None and f.kind != known.kind:
            out.append(f"{label}: fields.{i}.kind: {f.name} is personal data ({known.kind}) in "
                       f"{name}: declare `kind: {known.kind}` (it then never reaches a tile)")
    return out
