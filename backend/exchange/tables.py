"""库表交换: a scheduled pull from a department's own PostgreSQL table through a read-only
connection, incremental by an update column, into one version of the dataset per run.

A run connects with a connect timeout and `default_transaction_read_only=on`, takes one
REPEATABLE READ snapshot, reads the rows whose update column is past the watermark in key order
through a server-side cursor (identifiers quoted by psycopg2.sql), maps the table's columns to
the dataset's fields by name (other columns are ignored), writes ONE incremental version
(arrival 'exchange') and advances the watermark in the same transaction as the version.

Deletions: a row deleted upstream is not seen by an incremental pull (nothing of it is left to
read). A full pull (`cityops datasets exchange run DATASET --full`, or `full=True`) reads the
whole table as a full version, which closes the rows gone upstream; run one periodically.

Errors (a bad DSN, a wrong password, a missing table or column) go to the link's last_status
and last_error; they never escape to the scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg2
import sqlalchemy as sa
from psycopg2 import sql
from starlette.concurrency import run_in_threadpool

from backend.audit.chain import append
from backend.auth.permissions import Principal
from backend.datasets.store import Rejection, VersionOutcome, write_version
from backend.errors import InvalidInput, NotFound
from backend.exchange.counters import refused
from backend.exchange.fields import DatasetSpec, load_spec, map_columns, to_rows
from backend.exchange.notify import after_version
from backend.exchange.service import check_owner
from backend.quality.gate import blocking_gate

if TYPE_CHECKING:
    from backend.realtime.hub import Hub

log = logging.getLogger("cityops.exchange")
CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_MS = 300_000  # one pull may read a large table, not hold it for ever
BATCH = 5_000
WATERMARK = "__cityops_watermark"
GEOMETRY = "__cityops_geometry"
LINK_COLUMNS = ("dataset_id", "source_table", "key_column", "update_column", "interval_s",
                "watermark", "enabled", "last_run_at", "last_status", "last_error")


def _table_ident(source_table: str) -> sql.Identifier:
    parts = source_table.split(".")
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise InvalidInput(f"table {source_table!r} must be schema.table or table")
    return sql.Identifier(*parts)


def add_link(engine: sa.Engine, *, dataset_id: str, dsn: str, source_table: str, key: str,
             updated: str, geometry: str | None = None, every_s: int = 3600,
             actor: str) -> dict[str, Any]:
    """Make (or replace) the dataset's link; the watermark starts empty (the first run reads
    the whole table)."""
    _table_ident(source_table)
    try:
        psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError as exc:
        raise InvalidInput(f"the DSN cannot be parsed: {exc}") from exc
    if every_s < 60:
        raise InvalidInput("--every must be at least 60 seconds")
    with engine.begin() as conn:
        load_spec(conn, dataset_id)
        conn.execute(sa.text(
            "INSERT INTO dataset_exchange_links (dataset_id, dsn, source_table, key_column, "
            "update_column, geometry_column, interval_s, watermark, enabled) VALUES (:d, :dsn, "
            ":t, :k, :u, :g, :i, NULL, true) ON CONFLICT (dataset_id) DO UPDATE SET dsn = :dsn, "
            "source_table = :t, key_column = :k, update_column = :u, geometry_column = :g, "
            "interval_s = :i, watermark = NULL, enabled = true, last_status = NULL, "
            "last_error = NULL"),
            {"d": dataset_id, "dsn": dsn, "t": source_table, "k": key, "u": updated,
             "g": geometry, "i": every_s})
        append(conn, actor, "dataset.exchange.link", "dataset", dataset_id,
               {"table": source_table, "key": key, "updated": updated, "geometry": geometry,
                "interval_s": every_s})
    return link_state(engine, dataset_id)


def link_state(engine: sa.Engine, dataset_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            f"SELECT {', '.join(LINK_COLUMNS)} FROM dataset_exchange_links "  # noqa: S608
            "WHERE dataset_id = :d"), {"d": dataset_id}).first()
    if row is None:
        raise NotFound(f"dataset {dataset_id} has no table exchange link (cityops datasets "
                       "exchange add DATASET --dsn ... makes one)")
    out = dict(row._mapping)
    if out["last_run_at"] is not None:
        out["last_run_at"] = out["last_run_at"].isoformat()
    return out


def link_read(engine: sa.Engine, dataset_id: str, principal: Principal | None) -> dict[str, Any]:
    """The link as the API shows it (never the DSN: it holds a password)."""
    with engine.connect() as conn:
        spec = load_spec(conn, dataset_id)
    check_owner(principal, spec, govern=True)
    return link_state(engine, dataset_id)


def _connect(dsn: str) -> Any:
    conn = psycopg2.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S,
                            application_name="cityops-exchange",
                            options=f"-c default_transaction_read_only=on "
                                    f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    return conn


def _pull(link: dict[str, Any], spec: DatasetSpec, full: bool, rejected: list[Rejection]
          ) -> tuple[list[Any], str | None, int]:
    """(rows, the new watermark, rows read) from the department's table."""
    table = _table_ident(link["source_table"])
    upd = sql.Identifier(link["update_column"])
    where = sql.SQL("")
    params: list[Any] = []
    if link["watermark"] is not None and not full:
        where = sql.SQL(" WHERE {} > %s").format(upd)
        params.append(link["watermark"])
    geom = sql.SQL("")
    if link["geometry_column"]:
        g = sql.Identifier(link["geometry_column"])
        geom = sql.SQL(", encode(ST_AsEWKB(CASE WHEN ST_SRID({g}) = 0 THEN ST_SetSRID({g}, 4326) "
                       "ELSE ST_Transform({g}, 4326) END), 'hex') AS {alias}").format(
            g=g, alias=sql.Identifier(GEOMETRY))
    src = _connect(link["dsn"])
    try:
        with src:
            with src.cursor() as cur:
                cur.execute(sql.SQL("SELECT max({})::text FROM {}").format(upd, table) + where,
                            params)
                watermark = cur.fetchone()[0]
            cursor = src.cursor(name="cityops_exchange")
            cursor.itersize = BATCH
            cursor.execute(sql.SQL("SELECT t.*{geom} FROM {table} t{where} ORDER BY {key}").format(
                geom=geom, table=table, where=where, key=sql.Identifier(link["key_column"])),
                params)
            first = cursor.fetchmany(BATCH)
            names = [d[0] for d in cursor.description]
            skip = {link["update_column"], link["geometry_column"], GEOMETRY} - {None}
            fields = spec.by_header()
            columns = [n for n in names if n not in skip or n in fields]
            cmap = map_columns(spec, [c for c in columns if c in fields
                                      or c == link["key_column"]])
            if cmap.missing or link["key_column"] not in cmap.fields:
                raise InvalidInput(f"table {link['source_table']} lacks the dataset's required "
                                   f"field(s) {', '.join(cmap.missing) or link['key_column']}")

            def records() -> Iterator[tuple[int, dict[str, Any], str | None]]:
                n = 0
                batch = first
                while batch:
                    for values in batch:
                        n += 1
                        record = dict(zip(names, values, strict=True))
                        yield n, record, record.get(GEOMETRY)
                    batch = cursor.fetchmany(BATCH)

            rows = list(to_rows(spec, records(), cmap, rejected))
            cursor.close()
    finally:
        src.close()
    return rows, (watermark if watermark is not None else link["watermark"]), len(rows) + len(
        {r.row for r in rejected})


def run_link(engine: sa.Engine, dataset_id: str, *, actor: str = "exchange",
             full: bool = False) -> VersionOutcome | None:
    """One pull: the new version (None when nothing changed upstream or the run failed; the
    link's last_status and last_error say which)."""
    link = link_state(engine, dataset_id)
    with engine.connect() as conn:
        link["dsn"], link["geometry_column"] = conn.execute(sa.text(
            "SELECT dsn, geometry_column FROM dataset_exchange_links WHERE dataset_id = :d"),
            {"d": dataset_id}).one()
        spec = load_spec(conn, dataset_id)
    rejected: list[Rejection] = []
    try:
        rows, watermark, read = _pull(link, spec, full, rejected)
    except Exception as exc:  # any upstream failure is the link's state, not a crash
        reason = type(exc).__name__
        refused("exchange", reason)
        message = str(getattr(exc, "message", None) or exc).strip().splitlines()
        _finish(engine, dataset_id, "error", f"{reason}: {message[0] if message else ''}"[:500])
        log.warning("exchange %s failed: %s", dataset_id, reason)
        return None
    if read == 0:
        _finish(engine, dataset_id, "ok: no change", None)
        return None
    with engine.begin() as conn:
        outcome = write_version(conn, dataset_id=dataset_id, rows=rows, arrival="exchange",
                                actor=actor, mode="full" if full else "incremental",
                                source=f"{link['source_table']} > {link['watermark'] or '-'}",
                                rejected=rejected, gate=blocking_gate)
        status = f"ok: version {outcome.version_id}" if outcome.status == "accepted" else \
            f"rejected: version {outcome.version_id}"
        conn.execute(sa.text(
            "UPDATE dataset_exchange_links SET watermark = CASE WHEN :ok THEN :w ELSE watermark "
            "END, last_run_at = now(), last_status = :s, last_error = NULL WHERE dataset_id = :d"),
            {"ok": outcome.status == "accepted", "w": watermark, "s": status, "d": dataset_id})
    if rejected:
        refused("exchange", "rows")
    return outcome


def _finish(engine: sa.Engine, dataset_id: str, status: str, error: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE dataset_exchange_links SET last_run_at = now(), last_status = :s, "
            "last_error = :e WHERE dataset_id = :d"), {"s": status, "e": error, "d": dataset_id})


def due_links(engine: sa.Engine, now: datetime | None = None) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT dataset_id FROM dataset_exchange_links WHERE enabled AND (last_run_at IS "
            "NULL OR last_run_at + make_interval(secs => interval_s) <= coalesce(:now, now())) "
            "ORDER BY dataset_id"), {"now": now}).scalars())


def dataset_name(engine: sa.Engine, dataset_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT name FROM datasets WHERE id = :d"),
                            {"d": dataset_id}).scalar() or dataset_id


async def run_due(engine: sa.Engine, hub: Hub | None,
                  changed: asyncio.Event | None = None) -> int:
    """Pull every due link, one after another, in a worker thread; publish each version."""
    done = 0
    for dataset_id in await run_in_threadpool(due_links, engine):
        try:
            outcome = await run_in_threadpool(run_link, engine, dataset_id)
            if outcome is not None:
                name = await run_in_threadpool(dataset_name, engine, dataset_id)
                await after_version(hub, outcome, name=name, changed=changed)
            done += 1
        except Exception:  # the scheduler outlives any one link
            log.exception("exchange: link %s failed", dataset_id)
    return done


async def scheduler(engine: sa.Engine, hub: Hub | None, tick_s: float,
                    changed: asyncio.Event | None = None) -> None:
    while True:
        await run_due(engine, hub, changed)
        await asyncio.sleep(tick_s)
