"""Reading a dataset's content: a page of rows or a streamed download (CSV or GeoJSON) of the
current version, for its own department, the data bureau or a grantee (granted fields only).
Personal fields go through backend.privacy.policy for the caller's roles; an answer that shows
any of them in full is one audited look (backend.privacy.looks)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from backend.auth.permissions import Principal
from backend.errors import Conflict, Forbidden, NotFound
from backend.privacy.looks import record_look
from backend.privacy.policy import Kind, Rule, View, present, rule_for
from backend.sharing.grants import may_read

MAX_PAGE = 1000
STREAM_BATCH = 2000  # rows fetched per round trip of the server-side cursor
CHUNK_ROWS = 500     # rows per chunk of a download
GEOMETRY = "geometry"


@dataclass(frozen=True)
class Plan:
    dataset_id: str
    seq: int | None
    total: int
    fields: list[str]              # value fields shown, in the dataset's order
    kinds: dict[str, Kind]          # the personal ones among them
    geometry: bool                 # the row's geometry is shown
    roles: frozenset[str]
    full: list[str]                # personal fields the caller sees in full


def plan(conn: sa.Connection, *, dataset_id: str, principal: Principal) -> Plan:
    """What the caller may read of the dataset's current version; Forbidden (with how to get
    access) or Conflict (no content kept here) otherwise."""
    ds = conn.execute(sa.text(
        "SELECT d.storage, d.layer_id, v.seq, v.rows_total FROM datasets d "
        "LEFT JOIN dataset_versions v ON v.id = d.current_version_id WHERE d.id = :d"),
        {"d": dataset_id}).first()
    if ds is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    allowed, why, granted = may_read(conn, principal, dataset_id)
    if not allowed:
        raise Forbidden(why)
    if ds.storage == "layer":
        raise Conflict(f"dataset {dataset_id} is the map layer {ds.layer_id}: read its features "
                       f"at /ogc/collections/{ds.layer_id}/items")
    if ds.storage == "metadata":
        raise Conflict(f"dataset {dataset_id} is a catalogue entry: no content has been "
                       "collected for it yet")
    rows = conn.execute(sa.text("SELECT name, data_type, kind FROM dataset_fields "
                                "WHERE dataset_id = :d ORDER BY position, name"),
                        {"d": dataset_id}).all()
    wanted = None if granted is None else set(granted)
    fields = [r.name for r in rows if r.data_type != GEOMETRY
              and (wanted is None or r.name in wanted)]
    geometry = wanted is None or GEOMETRY in wanted or any(
        r.data_type == GEOMETRY and r.name in wanted for r in rows)
    kinds = {r.name: Kind(r.kind) for r in rows
             if r.name in fields and r.kind in Kind.__members__.values()}
    roles = frozenset(principal.roles)
    full = [f for f, k in kinds.items() if rule_for(k, roles, View.RECORD) is Rule.SHOWN]
    return Plan(dataset_id, ds.seq, (ds.rows_total or 0) if ds.seq else 0, fields, kinds,
                geometry, roles, full)


_CONTENT = ("SELECT key, data, CASE WHEN :geo THEN ST_AsGeoJSON(geom, 7) END AS geom "
            "FROM dataset_rows WHERE dataset_id = :d AND first_seq <= :seq "
            "AND (last_seq IS NULL OR last_seq > :seq) ORDER BY key")


def _item(p: Plan, key: str, data: dict[str, Any], geom: str | None) -> tuple[dict[str, Any],
                                                                                list[str]]:
    values = {f: data.get(f) for f in p.fields}
    shown = present(values, p.kinds, p.roles, View.RECORD)
    item = {"key": key, **values}
    if p.geometry:
        item["geometry"] = None if geom is None else orjson.loads(geom)
    return item, shown


def page(conn: sa.Connection, p: Plan, *, actor: str, limit: int,
         offset: int) -> dict[str, Any]:
    """{total, fields, items}; one audited look when a personal value went out in full (the
    caller's transaction must commit it)."""
    items: list[dict[str, Any]] = []
    shown: set[str] = set()
    keys: list[str] = []
    if p.seq is not None:
        for r in conn.execute(sa.text(_CONTENT + " LIMIT :limit OFFSET :offset"),
                              {"geo": p.geometry, "d": p.dataset_id, "seq": p.seq,
                               "limit": min(limit, MAX_PAGE), "offset": offset}):
            item, full = _item(p, r.key, r.data, r.geom)
            items.append(item)
            if full:
                shown.update(full)
                keys.append(r.key)
    record_look(conn, actor, "dataset", [p.dataset_id], sorted(shown),
                {"keys": keys, "seq": p.seq, "via": "rows"})
    fields = [*p.fields, GEOMETRY] if p.geometry else list(p.fields)
    return {"total": p.total, "fields": fields, "items": items}


def record_download(conn: sa.Connection, p: Plan, *, actor: str, fmt: str) -> None:
    """The look of a whole download (its personal fields the caller sees in full), recorded
    before the first byte goes out."""
    if p.total:
        record_look(conn, actor, "dataset", [p.dataset_id], p.full,
                    {"seq": p.seq, "rows": p.total, "via": f"download.{fmt}"})


def _rows(engine: sa.Engine, p: Plan) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    if p.seq is None:
        return
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(
            sa.text(_CONTENT), {"geo": p.geometry, "d": p.dataset_id, "seq": p.seq})
        for r in result:
            yield r.key, r.data, r.geom


def stream_csv(engine: sa.Engine, p: Plan) -> Iterator[bytes]:
    """UTF-8 with a BOM (spreadsheets open Chinese text right); geometry as GeoJSON text."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["key", *p.fields, *([GEOMETRY] if p.geometry else [])])
    yield "\ufeff".encode() + _take(buf)
    for n, (key, data, geom) in enumerate(_rows(engine, p), start=1):
        item, _ = _item(p, key, data, None)
        out.writerow([key, *(_cell(item[f]) for f in p.fields),
                      *([geom or ""] if p.geometry else [])])
        if n % CHUNK_ROWS == 0:
            yield _take(buf)
    yield _take(buf)


def _take(buf: io.StringIO) -> bytes:
    """What the CSV buffer holds, emptied."""
    data = buf.getvalue().encode()
    buf.seek(0)
    buf.truncate(0)
    return data


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def stream_geojson(engine: sa.Engine, p: Plan) -> Iterator[bytes]:
    """A FeatureCollection, sent in chunks of CHUNK_ROWS features (one chunk per row costs a
    thread hop each in the server: 80 s instead of 2 s for 100,000 rows)."""
    parts: list[bytes] = [b'{"type":"FeatureCollection","features":[']
    for n, (key, data, geom) in enumerate(_rows(engine, p)):
        item, _ = _item(p, key, data, None)
        item.pop(GEOMETRY, None)
        feature = {"type": "Feature", "id": key, "properties": item,
                   "geometry": orjson.loads(geom) if geom else None}
        parts.append((b"," if n else b"") + orjson.dumps(feature, default=str))
        if len(parts) >= CHUNK_ROWS:
            yield b"".join(parts)
            parts = []
    parts.append(b"]}")
    yield b"".join(parts)
