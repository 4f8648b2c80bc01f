"""Strict YAML configuration files: parsed, validated by a pydantic model that forbids unknown
keys, and every problem reported as 'file: key: what was expected'."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """A configuration record: unknown keys refused, immutable once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Title(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class CatalogError(Exception):
    """One or more configuration files are invalid. `problems` are 'file: key: what was
    expected'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def problems_of(label: str, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        out.append(f"{label}: {key}: {msg}")
    return out


def parse_yaml(text: str, model: type[M], label: str,
               error: type[CatalogError] = CatalogError,
               implied: dict[str, Any] | None = None) -> M:
    """`text` validated as `model`; `label` names the file in the problems. `implied` keys
    come from where the file lies (a layer's domain is its folder): the file may not set them."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error([f"{label}: (file): not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise error([f"{label}: (file): expected a mapping of keys"])
    for key, value in (implied or {}).items():
        if key in raw:
            raise error([f"{label}: {key}: unknown key (implied by where the file lies)"])
        raw[key] = value
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise error(problems_of(label, exc)) from exc


def read_yaml(path: Path, model: type[M], label: str,
              error: type[CatalogError] = CatalogError,
              implied: dict[str, Any] | None = None) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error([f"{label}: (file): cannot read: {exc}"]) from exc
    return parse_yaml(text, model, label, error, implied)
