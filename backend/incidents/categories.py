"""Case categories as data: the county's YAML (scenarios/sixian/case_categories.yaml) loaded
strictly and synced into `departments` and `case_categories` at server start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import orjson
import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.errors import NotConfigured
from backend.incidents.clocks import Limits

Urgency = Literal["normal", "urgent"]
URGENCIES: tuple[Urgency, ...] = ("normal", "urgent")
TwoDigits = Annotated[str, Field(pattern=r"^[0-9]{2}$")]
Hours = Annotated[float, Field(gt=0, le=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _StageLimits(_Strict):
    accept: Hours | None = None
    handle: Hours | None = None
    verify: Hours | None = None
    total: Hours | None = None


class _Minor(_Strict):
    name: str = Field(min_length=1)
    department: str
    limits: dict[Urgency, _StageLimits] = {}
    sensitive: bool = False


class _Major(_Strict):
    name: str = Field(min_length=1)
    limits: dict[Urgency, _StageLimits] = {}
    minor: dict[TwoDigits, _Minor] = Field(min_length=1)


class _File(_Strict):
    departments: dict[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,15}$")], str] = Field(
        min_length=1)
    defaults: dict[Urgency, _StageLimits]
    components: dict[TwoDigits, _Major]
    events: dict[TwoDigits, _Major]


@dataclass(frozen=True, slots=True)
class Category:
    code: str             # C0101 (部件) / E0101 (事件)
    kind: str             # component | event
    major_code: str
    major_name: str
    name: str
    department_code: str
    limits: dict[str, Limits]  # by urgency
    sensitive: bool


@dataclass(frozen=True, slots=True)
class CategoryBook:
    departments: dict[str, str]
    categories: dict[str, Category]


def _merge(*layers: dict[Urgency, _StageLimits]) -> dict[str, Limits]:
    out = {}
    for urgency in URGENCIES:
        merged: dict[str, float] = {}
        for layer in layers:
            if urgency in layer:
                merged.update(layer[urgency].model_dump(exclude_none=True))
        missing = {"accept", "handle", "verify", "total"} - set(merged)
        if missing:
            raise ValueError(f"{urgency} limits lack {', '.join(sorted(missing))}")
        if merged["total"] < max(merged["accept"], merged["handle"], merged["verify"]):
            raise ValueError(f"{urgency}: the case limit is shorter than a stage limit")
        out[urgency] = Limits(**merged)
    return out


def load_categories(path: Path) -> CategoryBook:
    try:
        doc = _File.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise NotConfigured(f"{path}: cannot be read: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise NotConfigured(f"{path}: {problems}") from exc
    categories: dict[str, Category] = {}
    for kind, letter, majors in (("component", "C", doc.components), ("event", "E", doc.events)):
        for major_code, major in majors.items():
            for minor_code, minor in major.minor.items():
                code = f"{letter}{major_code}{minor_code}"
                if minor.department not in doc.departments:
                    raise NotConfigured(f"{path}: {code} {minor.name}: unknown department "
                                        f"{minor.department!r}; departments: "
                                        f"{', '.join(doc.departments)}")
                try:
                    limits = _merge(doc.defaults, major.limits, minor.limits)
                except ValueError as exc:
                    raise NotConfigured(f"{path}: {code} {minor.name}: {exc}") from exc
                categories[code] = Category(code, kind, major_code, major.name, minor.name,
                                            minor.department, limits, minor.sensitive)
    return CategoryBook(dict(doc.departments), categories)


def sync_categories(conn: sa.Connection, book: CategoryBook) -> None:
    """Upsert the file into the tables; categories no longer in the file become inactive
    (cases keep their category)."""
    conn.execute(sa.text(
        "INSERT INTO departments (code, name) VALUES (:code, :name) "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name"),
        [{"code": c, "name": n} for c, n in book.departments.items()])
    conn.execute(sa.text("""
INSERT INTO case_categories (code, kind, major_code, major_name, name, department_code, limits,
  sensitive, active)
VALUES (:code, :kind, :major_code, :major_name, :name, :department_code, CAST(:limits AS jsonb),
  :sensitive, true)
ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, major_code = EXCLUDED.major_code,
  major_name = EXCLUDED.major_name, name = EXCLUDED.name,
  department_code = EXCLUDED.department_code, limits = EXCLUDED.limits,
  sensitive = EXCLUDED.sensitive, active = true"""), [
        {"code": c.code, "kind": c.kind, "major_code": c.major_code,
         "major_name": c.major_name, "name": c.name, "department_code": c.department_code,
         "limits": orjson.dumps({u: vars_of(lim) for u, lim in c.limits.items()}).decode(),
         "sensitive": c.sensitive}
        for c in book.categories.values()])
    conn.execute(sa.text("UPDATE case_categories SET active = false WHERE NOT code = ANY(:c)"),
                 {"c": list(book.categories)})


def vars_of(limits: Limits) -> dict[str, float]:
    return {"accept": limits.accept, "handle": limits.handle, "verify": limits.verify,
            "total": limits.total}
