"""The purposes a person may be looked at for (purposes.yaml): each allowed to certain roles.
A search or a full record of the population base names one; `check_purpose` refuses a missing
or not-allowed one with the list the caller may use. Pure: no database, no web framework."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from backend.errors import Forbidden

PURPOSES_FILE = Path(__file__).with_name("purposes.yaml")


class Purpose(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    zh: str
    en: str
    roles: tuple[str, ...]


class _PurposesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purposes: list[Purpose]


@lru_cache(maxsize=1)
def purposes() -> dict[str, Purpose]:
    data = _PurposesFile.model_validate(
        yaml.safe_load(PURPOSES_FILE.read_text(encoding="utf-8")))
    return {p.id: p for p in data.purposes}


def allowed_purposes(roles: Iterable[str]) -> list[Purpose]:
    roles = set(roles)
    return [p for p in purposes().values() if roles & set(p.roles)]


def check_purpose(purpose: str | None, roles: Iterable[str]) -> Purpose:
    """The stated purpose if the roles may use it; else Forbidden (403) naming the ones they
    may use (none: the role never sees a person in full)."""
    allowed = allowed_purposes(roles)
    found = next((p for p in allowed if p.id == purpose), None)
    if found is not None:
        return found
    listed = ", ".join(f"{p.id} ({p.zh})" for p in allowed) or "none for your role"
    what = "No purpose was stated" if not purpose else f"The purpose {purpose!r} is not allowed"
    raise Forbidden(f"{what}: state one of {listed} (?purpose=...)",
                    allowed_purposes=[{"id": p.id, "zh": p.zh, "en": p.en} for p in allowed])
