"""Checks of one register row, pure: raw values in, typed values or the reasons it is refused
out. Every reason names the column and what is allowed, so the person fixing the file knows
what to change."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, get_args

from backend.cameras.device_id import CHANNEL_TYPES, DEVICE_TYPES, DeviceIdError, decode
from backend.cameras.register_io import MAX_CELL, PRESET_KEYS, Row
from backend.cameras.schemas import Kind, Status

KINDS = get_args(Kind)
STATUSES = get_args(Status)
MAX_TEXT = 200
MAX_PASSWORD = 128
MAX_PRESETS = 255
# column -> (low, high, low included, high included); the migration's CHECKs, as sentences
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "heading_deg": (0, 360, True, False), "fov_deg": (0, 360, False, True),
    "range_m": (0, 2000, False, True), "height_m": (0, 200, False, True),
    "tilt_deg": (-90, 90, True, True), "lon": (-180, 180, True, True),
    "lat": (-90, 90, True, True), "preset_no": (1, 255, True, True),
}
CODES = {"ptz_type": (1, 9), "use_type": (1, 9), "room_type": (1, 9), "position_type": (1, 99),
         "keepalive_s": (5, 3600)}
TEXTS = ("name", "manufacturer", "model", "owner", "address")
CIVIL = re.compile(r"[0-9]{6}(?:[0-9]{2}|[0-9]{3}|[0-9]{6})?")
# a cell left empty in CSV (or null in JSON) clears the column; absent columns are not touched
EMPTY = ("", None)


@dataclass
class Checked:
    """A row that passed: `values` holds the columns the file gave (typed)."""

    code: str
    values: dict[str, Any] = field(default_factory=dict)
    presets: list[dict[str, Any]] | None = None  # None: the file says nothing about presets
    password: str | None = None


def check_row(row: Row, counties: Collection[str] | None
              ) -> tuple[Checked | None, list[str]]:
    """(the typed row, []) or (None, reasons)."""
    reasons: list[str] = []
    for col, value in row.items():
        if isinstance(value, str) and len(value) > MAX_CELL:
            reasons.append(f"{col}: {len(value):,} characters, over {MAX_CELL:,}")
    if reasons:
        return None, reasons
    code = _text(row.get("code"))
    if code is None:
        return None, ["code: required (the 20-digit GB/T 28181 id)"]
    try:
        dev = decode(code, counties)
        if dev.type_code not in CHANNEL_TYPES:
            reasons.append(f"code: type: {dev.type_code} ({dev.type_name}) is not a camera "
                           f"(one of {', '.join(sorted(CHANNEL_TYPES))})")
    except DeviceIdError as exc:
        reasons.append(f"code: {exc}")
    out = Checked(code=code)
    for col, value in row.items():
        if col in ("code", "presets", "password"):
            continue
        try:
            out.values[col] = _value(col, value, counties)
        except ValueError as exc:
            reasons.append(f"{col}: {exc}")
    if "presets" in row:
        try:
            out.presets = _presets(row["presets"])
        except ValueError as exc:
            reasons.append(f"presets: {exc}")
    if row.get("password") not in EMPTY:
        pw = row["password"]
        if not isinstance(pw, str) or not 1 <= len(pw) <= MAX_PASSWORD or not pw.isprintable():
            reasons.append(f"password: 1-{MAX_PASSWORD} printable characters")
        else:
            out.password = pw
    if ("lon" in row) != ("lat" in row) or (out.values.get("lon") is None) != (
            out.values.get("lat") is None):
        reasons.append("lon, lat: give both or neither")
    return (None, reasons) if reasons else (out, [])


def _value(col: str, value: Any, counties: Collection[str] | None) -> Any:
    if value in EMPTY:
        return None
    if col in RANGES:
        return _number(value, *RANGES[col])
    if col in CODES:
        n = _number(value, *CODES[col], True, True)
        if n != int(n):
            raise ValueError(f"{value!r} is not a whole number")
        return int(n)
    if col == "kind":
        return _choice(value, KINDS)
    if col == "status":
        return _choice(value, STATUSES)
    if col == "civil_code":
        text = _text(value)
        if text is None or not CIVIL.fullmatch(text) or (counties and text[:6] not in counties):
            raise ValueError(f"{str(value)[:20]!r} is not an administrative code of this "
                             f"county ({', '.join(sorted(counties or []))}; 6, 8, 9 or 12 "
                             "digits)")
        return text
    if col == "parent_code":
        text = _text(value) or ""
        try:
            dev = decode(text, counties)
        except DeviceIdError as exc:
            raise ValueError(str(exc)) from exc
        if dev.type_code not in DEVICE_TYPES:
            raise ValueError(f"type: {dev.type_code} ({dev.type_name}) does not register "
                             f"cameras (one of {', '.join(sorted(DEVICE_TYPES))})")
        return text
    if col in TEXTS:
        text = _text(value)
        if text is None or len(text) > MAX_TEXT or not text.isprintable():
            raise ValueError(f"1-{MAX_TEXT} printable characters")
        return text
    raise ValueError("unknown column")  # register_io refuses these first


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip() if isinstance(value, str | int) else None
    return text or None


def _number(value: Any, lo: float, hi: float, lo_in: bool, hi_in: bool) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{str(value)[:40]!r} is not a number") from exc
    if not math.isfinite(x) or x < lo or x > hi or (x == lo and not lo_in) or (
            x == hi and not hi_in):
        raise ValueError(f"{x:g} is outside {'[' if lo_in else '('}{lo:g}, {hi:g}"
                         f"{']' if hi_in else ')'}")
    return x


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{str(value)[:40]!r} is not one of {', '.join(allowed)}")
    return str(value)


def _presets(value: Any) -> list[dict[str, Any]]:
    """A JSON list (or its text) of {preset_no, name, heading_deg, fov_deg, range_m}."""
    if value in EMPTY:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValueError("not valid JSON (a list of {preset_no, name, heading_deg, "
                             "fov_deg, range_m})") from exc
    if not isinstance(value, list) or len(value) > MAX_PRESETS:
        raise ValueError(f"a list of at most {MAX_PRESETS} presets")
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, p in enumerate(value, start=1):
        if not isinstance(p, dict) or set(p) - set(PRESET_KEYS):
            raise ValueError(f"preset {i}: an object with keys {', '.join(PRESET_KEYS)}")
        try:
            no = _preset_number(p, "preset_no")
            if no is None or no != int(no):
                raise ValueError("preset_no: a whole number 1-255")
            no = int(no)
            name = _text(p.get("name"))
            got = {"preset_no": no, "name": name[:MAX_TEXT] if name else None,
                   "heading_deg": _preset_number(p, "heading_deg"),
                   "fov_deg": _preset_number(p, "fov_deg"),
                   "range_m": _preset_number(p, "range_m", required=False),
                   "tilt_deg": _preset_number(p, "tilt_deg", required=False)}
        except ValueError as exc:
            raise ValueError(f"preset {i}: {exc}") from exc
        if no in seen:
            raise ValueError(f"preset {i}: preset_no {no} is repeated")
        seen.add(no)
        out.append(got)
    return out


def _preset_number(p: dict[str, Any], key: str, *, required: bool = True) -> float | None:
    value = p.get(key)
    if value in EMPTY:
        if required:
            raise ValueError(f"{key}: required")
        return None
    try:
        return _number(value, *RANGES[key])
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from exc
