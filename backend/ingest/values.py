"""File values to the text PostgreSQL's COPY reads, checked against the column's type first so
that a bad value rejects its row with a reason instead of failing the COPY."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

Coerced = tuple[str | None, str | None]  # (text for COPY or None = NULL, error)
Coercer = Callable[[Any], Coerced]

INT_RANGES = {"SmallInteger": 2**15, "Integer": 2**31, "BigInteger": 2**63}
TRUE = {"true", "t", "yes", "y", "1", "是"}
FALSE = {"false", "f", "no", "n", "0", "否"}


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | np.ndarray):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def as_text(value: Any) -> str:
    """A readable text for any scalar; integral floats lose their '.0' (12.0 -> '12')."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        f = float(value)
        return str(int(f)) if f.is_integer() and abs(f) < 2**63 else repr(f)
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        raise ValueError("binary values are not supported")
    return str(value).strip()


def key_text(value: Any) -> str | None:
    return None if is_missing(value) else as_text(value)


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    text = str(value).strip()
    try:
        return int(text)  # exact, also beyond 2**53
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _integer(kind: str) -> Coercer:
    bound = INT_RANGES.get(kind, 2**63)

    def coerce(value: Any) -> Coerced:
        number = _to_int(value)
        if number is None:
            return None, f"{value!r} is not an integer"
        if not -bound <= number < bound:
            return None, f"{number} is out of range for {kind} ({-bound}..{bound - 1})"
        return str(number), None

    return coerce


def _float(value: Any) -> Coerced:
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None, f"{value!r} is not a number"
    if not math.isfinite(number):
        return None, f"{value!r} is not a finite number"
    return repr(number), None


def _boolean(value: Any) -> Coerced:
    text = as_text(value).lower()
    if text in TRUE:
        return "true", None
    if text in FALSE:
        return "false", None
    return None, f"{value!r} is not a yes/no value"


def _timestamp(value: Any) -> Coerced:
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat(), None
    try:
        return pd.Timestamp(str(value).strip()).isoformat(), None
    except (TypeError, ValueError):
        return None, f"{value!r} is not a date/time (use ISO 8601, e.g. 2024-05-01T08:30:00+08:00)"


def _string(length: int | None) -> Coercer:
    def coerce(value: Any) -> Coerced:
        try:
            text = as_text(value)
        except ValueError as exc:
            return None, str(exc)
        if "\x00" in text:
            return None, "contains a NUL character"
        if length is not None and len(text) > length:
            return None, f"{len(text)} characters, more than the {length} allowed ({text[:30]!r})"
        return text, None

    return coerce


def coercer_for(column: sa.Column) -> Coercer:
    t = column.type
    if isinstance(t, sa.Integer):
        return _integer(type(t).__name__)
    if isinstance(t, sa.Float | sa.Numeric):
        return _float
    if isinstance(t, sa.Boolean):
        return _boolean
    if isinstance(t, sa.DateTime | sa.Date):
        return _timestamp
    if isinstance(t, sa.String):
        return _string(t.length)
    return _string(None)  # other types: the database's input function decides


def copy_escape(value: str | None) -> str:
    """COPY text format: NULL is \\N; backslash, tab, newline and CR are escaped."""
    if value is None:
        return "\\N"
    return (value.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))
