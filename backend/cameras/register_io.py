"""The camera register as a file: CSV or JSON, the same columns both ways. Reading is bounded
(file size, rows, cell length) before any parsing, and refuses a file it cannot read with a
message that says what to do; it does not judge values (backend.cameras.registry does)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from backend.errors import InvalidInput

Format = Literal["csv", "json"]
FORMATS: tuple[Format, ...] = ("csv", "json")
# The register's columns, in file order. `password` is read, never written: it becomes the
# registering device's HA1. `presets` is a JSON list (a JSON text cell in CSV).
COLUMNS = (
    "code", "name", "kind", "lon", "lat", "status", "manufacturer", "model", "owner",
    "civil_code", "address", "ptz_type", "position_type", "use_type", "room_type",
    "heading_deg", "fov_deg", "range_m", "height_m", "tilt_deg", "presets", "parent_code",
    "keepalive_s",
)
WRITE_ONLY = ("password",)
PRESET_KEYS = ("preset_no", "name", "heading_deg", "fov_deg", "range_m", "tilt_deg")
JSON_KIND = "cityops-camera-register"
JSON_VERSION = 1
MAX_BYTES = 16 * 1024 * 1024     # a county's register is a few MB
MAX_ROWS = 50_000
MAX_CELL = 16_384  # characters in a cell (a presets cell with 255 presets fits)

Row = dict[str, Any]  # column -> value as read (text in CSV, JSON values in JSON)


def format_of(path: Path, given: str | None = None) -> Format:
    fmt = (given or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"{path.name}: a camera register is .csv or .json (got "
                           f"{fmt or 'no suffix'!r}); say which with --format csv|json.")
    return fmt  # type: ignore[return-value]


def read_register(path: Path, fmt: Format, *, encoding: str = "utf-8") -> list[Row]:
    """The rows of a register file (1-based row numbers are their positions)."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file.")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InvalidInput(f"{path.name} is {size / 1e6:.1f} MB, over the register limit of "
                           f"{MAX_BYTES / 1e6:.0f} MB: split it into several files.")
    raw = path.read_bytes()[:MAX_BYTES + 1]
    try:
        text = raw.decode("utf-8-sig" if encoding.lower().replace("_", "-") in
                          ("utf-8", "utf8") else encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InvalidInput(f"{path.name} is not valid {encoding} text ({exc.__class__.__name__}"
                           f" at byte {getattr(exc, 'start', '?')}): save it as UTF-8, or give "
                           "its encoding with --encoding (e.g. gb18030).") from exc
    if "\x00" in text:
        raise InvalidInput(f"{path.name} contains NUL characters: it is not a text register.")
    rows = _read_csv(path, text) if fmt == "csv" else _read_json(path, text)
    if not rows:
        raise InvalidInput(f"{path.name} holds no cameras; nothing to import.")
    return rows


def _read_csv(path: Path, text: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    header = [h.strip() for h in reader.fieldnames or []]
    if "code" not in header:
        raise InvalidInput(f"{path.name}: the first line must name the columns, with at least "
                           f"`code` (known: {', '.join(COLUMNS + WRITE_ONLY)}).")
    _known(path, header)
    reader.fieldnames = header
    rows: list[Row] = []
    try:
        for n, row in enumerate(reader, start=1):
            if n > MAX_ROWS:
                raise InvalidInput(f"{path.name} has more than {MAX_ROWS:,} rows: split it.")
            if "\x00extra" in row:
                raise InvalidInput(f"{path.name}, row {n}: more cells than columns (a comma "
                                   "inside an unquoted value?).")
            rows.append({k: (v if v is None else v.strip()) for k, v in row.items()})
    except csv.Error as exc:
        raise InvalidInput(f"{path.name}, line {reader.line_num}: not valid CSV ({exc}).") from exc
    return rows


def _read_json(path: Path, text: str) -> list[Row]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if isinstance(
            exc, json.JSONDecodeError) else "nesting too deep"
        raise InvalidInput(f"{path.name} is not valid JSON ({where}).") from exc
    items = data.get("cameras") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InvalidInput(f"{path.name}: expected a list of cameras, or an object with a "
                           "`cameras` list.")
    if len(items) > MAX_ROWS:
        raise InvalidInput(f"{path.name} has more than {MAX_ROWS:,} cameras: split it.")
    rows: list[Row] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InvalidInput(f"{path.name}, camera {n}: expected an object, got "
                               f"{type(item).__name__}.")
        _known(path, item, where=f", camera {n}")
        rows.append(dict(item))
    return rows


def _known(path: Path, columns: Iterable[str], where: str = "") -> None:
    unknown = sorted(set(columns) - set(COLUMNS) - set(WRITE_ONLY))
    if unknown:
        raise InvalidInput(f"{path.name}{where}: unknown column(s) {', '.join(unknown)[:200]} "
                           f"(known: {', '.join(COLUMNS + WRITE_ONLY)}).")


def write_register(path: Path, fmt: Format, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows (COLUMNS keys; presets as a list) in the register form. Returns the count."""
    out = [{c: row.get(c) for c in COLUMNS} for row in rows]
    if fmt == "json":
        body = {"format": JSON_KIND, "version": JSON_VERSION, "cameras": out}
        path.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return len(out)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # the BOM: Excel reads UTF-8
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in out:
            writer.writerow({c: _cell(v) for c, v in row.items()})
    return len(out)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value
