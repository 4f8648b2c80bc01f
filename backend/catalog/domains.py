"""The one table of domains (layers/domains.yaml): title, order and icon of each group of layers.
A layer's domain is the folder its file lies in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from backend.catalog.strict import CatalogError, Strict, Title, read_yaml

DOMAINS_FILE = "domains.yaml"


class Domain(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    title: Title
    order: int
    icon: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]


class DomainTable(Strict):
    domains: list[Domain] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> DomainTable:
        ids = [d.id for d in self.domains]
        if len(set(ids)) != len(ids):
            raise ValueError(f"domain ids must be unique: {ids}")
        return self

    def ordered(self) -> list[Domain]:
        return sorted(self.domains, key=lambda d: (d.order, d.id))

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self.ordered()]


def load_domains(directory: Path) -> DomainTable:
    path = directory / DOMAINS_FILE
    if not path.is_file():
        raise CatalogError([f"{DOMAINS_FILE}: (file): missing in {directory}; it lists the domains"
                            " the layer folders are named after"])
    return read_yaml(path, DomainTable, DOMAINS_FILE)
