"""Shared parameter types for every router: times, paging, ids. Each bounds what a caller may
send, so an absurd value is a 422 naming the parameter instead of a 500 from PostgreSQL (an
offset past bigint, a UTC offset of +16:00)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator

from backend.bounds import BIGINT_MAX, MAX_OFFSET, check_instant


def _plus_from_space(value: object) -> object:
    """A '+' sent unencoded in a query string arrives as a space: 08:00:00 08:00 -> +08:00."""
    if isinstance(value, str) and "T" in value and " " in value.strip():
        head, _, tail = value.strip().rpartition(" ")
        return f"{head}+{tail}"
    return value


# ISO 8601 with a UTC offset PostgreSQL can store, in 1970..2099 (backend.bounds).
Instant = Annotated[datetime, BeforeValidator(_plus_from_space),
                    AfterValidator(check_instant)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip (paging)")]
# A database id in a path (serial / bigserial): positive and within bigint.
Id = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
