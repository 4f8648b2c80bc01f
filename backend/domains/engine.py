"""The KPI engine: a view's SQL over its datasets as typed relations.

Each query is composed as `WITH <dataset> AS NOT MATERIALIZED (SELECT typed columns FROM
dataset_rows WHERE dataset_id = %(..)s AND <the current version> AND <area>) <the file's
SQL>`, every value bound (the file's SQL is configuration, checked at start; the area is
input, bound). NOT MATERIALIZED lets PostgreSQL inline the relation, so only the columns a
query uses are cast and the area predicate reaches the GiST index. Queries run in one READ
ONLY transaction with a statement timeout, each in its own savepoint: one failing card leaves
the others available."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg2
import sqlalchemy as sa
from psycopg2.extensions import cursor as Cursor

from backend.domains.area import Area
from backend.domains.views import DatasetInfo, DomainView, Query

log = logging.getLogger("cityops.domains")
TZ = ZoneInfo("Asia/Shanghai")
# What a plan may scan: the version store, the base relations and the view's own datasets'
# typed projections (domain_data.<id>; CTE scans are not tables).
ALLOWED_TABLES = frozenset({"dataset_rows", "townships", "grid_cells"})
MAX_CHART_ROWS = 200
_WITH = re.compile(r"^\s*with\s+(recursive\s+)?", re.IGNORECASE)
REASON_TIMEOUT = "查询超时 · the query took too long"
REASON_FAILED = "查询失败 · the query failed (see the server log)"


@dataclass(frozen=True, slots=True)
class Meta:
    """A dataset's state in the catalog: its current version's seq and the newest seq (when
    they differ, a rollback: the current content is read by seq range), its last update, and
    the fields of its typed projection when that holds the current version (migration 0023)."""

    seq: int | None
    latest_seq: int
    last_updated_at: datetime | None
    projected: tuple[str, ...] | None = None


class QueryFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _projected(info: DatasetInfo, meta: Meta | None) -> bool:
    """Its typed projection holds the current version with the fields the view knows."""
    return (meta is not None and meta.projected is not None
            and meta.projected == tuple(name for name, _ in info.fields))


def _cut(info: DatasetInfo, area: Area | None, township: str) -> tuple[list[str], bool]:
    """The area's predicates on one dataset and whether they cut it; `township` is how its
    township code is read (a column of the projection, or the JSON)."""
    if area is None:
        return [], True
    if area.kind == "township" and info.township:
        return [f"{township} = %(area_code)s"], True
    if info.geometry:
        return [f"ST_Intersects(geom, {area.geometry})"], True
    if info.township and area.kind in ("bbox", "polygon"):
        # No geometry: a row is in the area when its township's inner point is.
        return [f"{township} IN (SELECT code FROM townships WHERE "  # noqa: S608
                f"ST_Intersects(ST_PointOnSurface(geom), {area.geometry}))"], True
    return [], False


def _relation(i: int, info: DatasetInfo, meta: Meta | None, area: Area | None
              ) -> tuple[str, dict[str, Any], bool]:
    """(CTE, params, cut by the area) for one dataset: its typed projection when that is
    current, else the version store's JSON cast on the fly. Names come from content.yaml
    (IDENT-checked), the area's SQL is fixed (backend.domains.area); every value is bound."""
    params: dict[str, Any] = dict(area.params) if area is not None else {}
    if _projected(info, meta):
        where, cut = _cut(info, area, "township_code")
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        return (f"\"{info.id}\" AS NOT MATERIALIZED (SELECT * FROM "  # noqa: S608
                f"domain_data.\"{info.id}\"{condition})"), params, cut
    cols = ", ".join(f"(data->>'{name}')::{kind} AS \"{name}\"" for name, kind in info.fields)
    p = f"ds{i}"
    params[p] = info.id
    if meta is None or meta.seq is None:
        version = "false"  # no current version: no rows
    elif meta.seq == meta.latest_seq:
        version = "last_seq IS NULL"
    else:
        version = f"first_seq <= %({p}_seq)s AND (last_seq IS NULL OR last_seq > %({p}_seq)s)"
        params[f"{p}_seq"] = meta.seq
    where, cut = _cut(info, area, "data->>'township_code'")
    cte = (f"\"{info.id}\" AS NOT MATERIALIZED (SELECT key, geom, {cols} FROM dataset_rows "  # noqa: S608
           f"WHERE {' AND '.join([f'dataset_id = %({p})s', version, *where])})")
    return cte, params, cut


def compose(view: DomainView, query: Query, area: Area | None, meta: dict[str, Meta]
            ) -> tuple[str, dict[str, Any], bool]:
    """(SQL, params, every dataset it reads was cut by the area)."""
    ctes: list[str] = []
    params: dict[str, Any] = {}
    cut_all = True
    for i, ds in enumerate(query.reads):
        cte, p, cut = _relation(i, view.datasets[ds], meta.get(ds), area)
        ctes.append(cte)
        params.update(p)
        cut_all = cut_all and cut
    body = query.sql.strip().rstrip(";").replace("%", "%%")  # no parameters in the file
    if not ctes:
        return body, params, cut_all
    m = _WITH.match(body)
    if m:
        head = "WITH RECURSIVE " if m.group(1) else "WITH "
        return f"{head}{', '.join(ctes)}, {body[m.end():]}", params, cut_all
    return f"WITH {', '.join(ctes)} {body}", params, cut_all


def _cursor(conn: sa.Connection) -> Cursor:
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


@contextmanager
def read_only(engine: sa.Engine, timeout_ms: int) -> Iterator[Cursor]:
    """A cursor in a READ ONLY transaction whose statements stop after `timeout_ms`."""
    with engine.connect() as conn:
        cur = _cursor(conn)
        try:
            cur.execute("SET TRANSACTION READ ONLY")
            # The county's day: date_trunc('day', now()) in a view's SQL is the local midnight.
            cur.execute("SELECT set_config('statement_timeout', %s, true), "
                        "set_config('TimeZone', 'Asia/Shanghai', true)", (str(timeout_ms),))
            yield cur
        finally:
            cur.close()
            conn.rollback()


def dataset_meta(cur: Cursor, ids: list[str]) -> dict[str, Meta]:
    cur.execute("SELECT d.id, v.seq, d.latest_seq, d.last_updated_at, "
                "CASE WHEN p.version_id IS NOT DISTINCT FROM d.current_version_id "
                "THEN p.fields END FROM datasets d "
                "LEFT JOIN dataset_versions v ON v.id = d.current_version_id "
                "LEFT JOIN domain_projections p ON p.dataset_id = d.id "
                "WHERE d.id = ANY(%s)", (ids,))
    return {r[0]: Meta(r[1], r[2], r[3], tuple(r[4]) if r[4] is not None else None)
            for r in cur.fetchall()}


def stale_projections(engine: sa.Engine, infos: list[DatasetInfo]) -> list[str]:
    """The datasets whose typed projection does not hold their current version with the
    fields the views know (a new version, a field added since): what a start rebuilds."""
    with engine.connect() as conn:
        meta = dataset_meta(_cursor(conn), [i.id for i in infos])
    return sorted(i.id for i in infos if i.id in meta and not _projected(i, meta[i.id]))


def refresh_projections(engine: sa.Engine, ids: list[str]) -> dict[str, int]:
    """Rebuild the typed projections of `ids` (each in its own transaction): {id: rows}. A
    dataset whose projection cannot be built (a value that does not cast) is left to the
    version store's path and logged."""
    built: dict[str, int] = {}
    for dataset_id in ids:
        try:
            with engine.begin() as conn:
                built[dataset_id] = conn.execute(
                    sa.text("SELECT cityops_refresh_domain_projection(:d)"),
                    {"d": dataset_id}).scalar_one()
        except sa.exc.DBAPIError as exc:
            log.warning("domain projection of %s not built: %s", dataset_id,
                        str(exc.orig).strip().splitlines()[0])
    return built


def run(cur: Cursor, view: DomainView, query: Query, area: Area | None,
        meta: dict[str, Meta], limit: int = 1) -> tuple[list[dict[str, Any]], bool]:
    """The query's rows as dicts (at most `limit`) and whether it was cut by the area; a
    failure or timeout raises QueryFailed (logged with the file and key, never shown)."""
    text, params, cut = compose(view, query, area, meta)
    cur.execute("SAVEPOINT domain_query")
    try:
        cur.execute(text, params)
        names = [d.name for d in cur.description or ()]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchmany(limit)]
    except psycopg2.Error as exc:
        cur.execute("ROLLBACK TO SAVEPOINT domain_query")
        timeout = exc.pgcode == "57014"
        log.warning("domain view %s: %s %s: %s", view.label, query.key,
                    "timed out" if timeout else "failed", str(exc).strip().splitlines()[0])
        raise QueryFailed(REASON_TIMEOUT if timeout else REASON_FAILED) from exc
    cur.execute("RELEASE SAVEPOINT domain_query")
    return rows, cut


def number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    raise QueryFailed("值不是数字 · the value is not a number")


def local_time(value: Any) -> datetime | None:
    """A time column as an aware datetime in the county's zone (a date is its midnight)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=TZ)).astimezone(TZ)
    if isinstance(value, date):
        return datetime.combine(value, time(), TZ)
    return None


# -- the start's check against the database ----------------------------------------------------

NEEDS = {"kpis": ("value",), "reference": ("value",), "charts": ("label", "value")}


def _scanned(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add(plan["Relation Name"])
        for value in plan.values():
            found |= _scanned(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= _scanned(item)
    return found


def check_queries(cur: Cursor, view: DomainView) -> list[str]:
    """Every query of `view` prepared (EXPLAIN) and described (LIMIT 0): problems as
    'file: key: what was expected'."""
    problems: list[str] = []
    meta = dataset_meta(cur, list(view.datasets))
    probe = Area("bbox", bbox=(117.0, 33.0, 118.0, 34.0))
    for key, query in view.queries.items():
        needs = NEEDS["reference" if ".reference." in key else key.split(".")[0]]
        where = f"{view.label}: {key}"
        for area in (None, probe):
            text, params, _ = compose(view, query, area, meta)
            cur.execute("SAVEPOINT domain_check")
            try:
                cur.execute(f"EXPLAIN (FORMAT JSON) {text}", params)
                plan = cur.fetchone()[0]
                cur.execute(f"SELECT * FROM ({text}) AS q LIMIT 0", params)  # noqa: S608
                names = [d.name for d in cur.description or ()]
            except psycopg2.Error as exc:
                cur.execute("ROLLBACK TO SAVEPOINT domain_check")
                first = str(exc).strip().splitlines()[0]
                problems.append(f"{where}: the database refuses it: {first}")
                break
            cur.execute("RELEASE SAVEPOINT domain_check")
            other = sorted(_scanned(plan) - ALLOWED_TABLES - set(view.datasets))
            if other:
                problems.append(f"{where}: reads {', '.join(other)}: only the view's datasets "
                                "and townships, grid_cells may be read")
                break
            missing = [n for n in needs if n not in names]
            if missing:
                problems.append(f"{where}: no column {' or '.join(missing)} (columns: "
                                f"{', '.join(names) or 'none'}); name it with AS")
                break
    return problems
