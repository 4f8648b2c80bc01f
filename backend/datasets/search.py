"""Reading the catalog: search with filters, one dataset with its fields, its versions, the
departments. Plain functions over a connection (no fastapi); SQL composed with SQLAlchemy Core,
every value bound.

Search (`q` of 2+ characters): a record matches when its search_text holds `q` as a substring
(ILIKE, % and _ escaped) or its name is trigram-similar (pg_trgm: `name % q`);
ranked exact name, then name substring, then search_text substring, then similarity.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from backend.datasets.models import (
    dataset_fields,
    dataset_versions,
    datasets,
    quality_results,
    quality_runs,
    quality_scores,
)
from backend.errors import InvalidInput, NotFound

MAX_LIMIT = 200
MAX_Q = 100
departments = sa.table("departments", sa.column("code"), sa.column("name"),
                       sa.column("short_name"), sa.column("name_en"))
SUMMARY_COLUMNS = ("id", "resource_code", "name", "name_en", "department_code", "share_type",
                   "open_type", "update_cycle", "layer_id", "storage", "geometry_type",
                   "synthetic", "last_updated_at")
DETAIL_COLUMNS = ("summary", "class_code", "item_code", "entry_code", "detail_code",
                  "resource_format", "share_condition", "share_method", "published_on",
                  "related", "keywords", "key_field", "coverage", "annex_no")


@dataclass(frozen=True)
class Filters:
    q: str | None = None
    department: str | None = None
    class_code: str | None = None
    share_type: str | None = None
    update_cycle: str | None = None
    has_layer: bool | None = None
    storage: str | None = None
    open_only: bool = False          # anonymous CKAN / DCAT callers
    tag: str | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _score_columns() -> list[Any]:
    latest_score = (sa.select(quality_scores.c.total)
                    .where(quality_scores.c.dataset_id == datasets.c.id)
                    .order_by(quality_scores.c.day.desc()).limit(1)
                    .scalar_subquery())
    latest_run = (sa.select(quality_runs.c.id).where(quality_runs.c.dataset_id == datasets.c.id)
                  .order_by(quality_runs.c.started_at.desc(), quality_runs.c.id.desc()).limit(1)
                  .correlate(datasets).scalar_subquery())
    # correlated explicitly: nested in `failing`, the run's subquery would otherwise take
    # `datasets` into its own FROM and answer the newest run of any dataset
    failing = (sa.select(sa.func.count()).select_from(quality_results)
               .where(quality_results.c.run_id == latest_run, quality_results.c.failed > 0)
               .correlate(datasets).scalar_subquery())
    return [latest_score.label("score"), failing.label("failing")]


@functools.cache  # statements are immutable (each .where() makes a new one): build it once
def _summary_select() -> sa.Select:
    current = dataset_versions.alias("current_version")
    current_seq = (sa.select(current.c.seq).where(current.c.id == datasets.c.current_version_id)
                   .scalar_subquery())
    return (sa.select(*[datasets.c[c] for c in SUMMARY_COLUMNS],
                      current_seq.label("current_seq"),
                      departments.c.name.label("department_name"), *_score_columns())
            .select_from(datasets.join(departments,
                                       departments.c.code == datasets.c.department_code)))


def summary_of(row: sa.Row) -> dict[str, Any]:
    out = dict(row._mapping)
    out["failing"] = out.get("failing") or 0
    for extra in ("rank", "sim", "total"):
        out.pop(extra, None)
    return out


def _where(f: Filters) -> list[Any]:
    conds: list[Any] = []
    if f.department:
        conds.append(datasets.c.department_code == f.department)
    if f.class_code:  # any level of the classification: 1, 101, 101003, ...
        conds.append(datasets.c.detail_code.startswith(f.class_code, autoescape=True))
    if f.share_type:
        conds.append(datasets.c.share_type == f.share_type)
    if f.update_cycle:
        conds.append(datasets.c.update_cycle == f.update_cycle)
    if f.has_layer is not None:
        conds.append(datasets.c.layer_id.isnot(None) if f.has_layer
                     else datasets.c.layer_id.is_(None))
    if f.storage:
        conds.append(datasets.c.storage == f.storage)
    if f.open_only:
        conds.append(datasets.c.open_type == "open")
    if f.tag:
        conds.append(sa.literal(f.tag, sa.Text) == sa.any_(datasets.c.keywords))
    return conds


def search(conn: sa.Connection, f: Filters, *, limit: int = 50, offset: int = 0,
           extra: list[Any] | None = None, max_limit: int = MAX_LIMIT, min_q: int = 2
           ) -> tuple[int, list[dict[str, Any]]]:
    """(total, page of DatasetSummary dicts); `extra`: more conditions on `datasets`."""
    if not 1 <= limit <= max_limit:
        raise InvalidInput(f"limit must be between 1 and {max_limit}")
    if offset < 0:
        raise InvalidInput("offset must be 0 or more")
    conds = _where(f) + list(extra or [])
    stmt = _summary_select()
    order: list[Any] = []
    q = (f.q or "").strip()
    if q:
        if len(q) < min_q or len(q) > MAX_Q:
            raise InvalidInput(f"q must have {min_q} to {MAX_Q} characters")
        pattern = f"%{_escape_like(q)}%"
        qp = sa.bindparam("q", q, type_=sa.Text)
        substring = datasets.c.search_text.ilike(pattern, escape="\\")
        # Trigram similarity on the name only: word_similarity over the long search_text
        # costs ~3x the whole query for little gain (tests/perf/bench_catalog.py).
        conds.append(sa.or_(substring, datasets.c.name.op("%")(qp)))
        rank = sa.case((datasets.c.name == qp, 0),
                       (datasets.c.name.ilike(pattern, escape="\\"), 1),
                       (substring, 2), else_=3)
        sim = sa.func.similarity(datasets.c.name, qp)
        stmt = stmt.add_columns(rank.label("rank"), sim.label("sim"))
        order = [sa.text("rank"), sa.text("sim DESC")]
    # the total in the same pass (a window over the matches, before LIMIT)
    stmt = stmt.add_columns(sa.func.count().over().label("total")).where(*conds)
    rows = conn.execute(stmt.order_by(*order, datasets.c.resource_code)
                        .limit(limit).offset(offset)).all()
    if rows:
        total = rows[0].total
    elif offset == 0:
        total = 0
    else:  # a page past the end: count alone
        total = conn.execute(sa.select(sa.func.count()).select_from(datasets)
                             .where(*conds)).scalar_one()
    return total, [summary_of(r) for r in rows]


def get_datasets(conn: sa.Connection, ids: list[str], *, open_only: bool = False
                 ) -> list[dict[str, Any]]:
    """DatasetSummary + the catalog metadata, fields and the number of versions of each of
    `ids` that exists (and is open, when asked), in the order of `ids`; three queries."""
    stmt = (_summary_select().add_columns(*[datasets.c[c] for c in DETAIL_COLUMNS])
            .where(datasets.c.id.in_(ids)))
    if open_only:
        stmt = stmt.where(datasets.c.open_type == "open")
    found = {r.id: summary_of(r) for r in conn.execute(stmt).all()}
    f = dataset_fields.c
    for d in found.values():
        d["fields"], d["versions"] = [], 0
    for r in conn.execute(sa.select(f.dataset_id, f.name, f.name_zh, f.data_type,
                                    f.description, f.required, f.kind, f.authority, f.link)
                          .where(f.dataset_id.in_(list(found)))
                          .order_by(f.dataset_id, f.position)).all():
        field = dict(r._mapping)
        found[field.pop("dataset_id")]["fields"].append(field)
    v = dataset_versions.c
    for dataset_id, n in conn.execute(sa.select(v.dataset_id, sa.func.count())
                                      .where(v.dataset_id.in_(list(found)))
                                      .group_by(v.dataset_id)).all():
        found[dataset_id]["versions"] = n
    return [found[i] for i in ids if i in found]


def get_dataset(conn: sa.Connection, dataset_id: str, *, open_only: bool = False
                ) -> dict[str, Any]:
    """DatasetSummary + the catalog metadata, fields and the number of versions."""
    found = get_datasets(conn, [dataset_id], open_only=open_only)
    if not found:
        raise NotFound(f"No dataset {dataset_id!r} in the catalog")
    return found[0]


def dataset_department(conn: sa.Connection, dataset_id: str) -> str:
    code = conn.execute(sa.select(datasets.c.department_code)
                        .where(datasets.c.id == dataset_id)).scalar_one_or_none()
    if code is None:
        raise NotFound(f"No dataset {dataset_id!r} in the catalog")
    return code


VERSION_COLUMNS = ("id", "seq", "status", "arrival", "mode", "source", "created_at",
                   "created_by", "rows_total", "rows_added", "rows_changed", "rows_removed",
                   "rows_rejected")


def _version_select() -> sa.Select:
    v = dataset_versions.c
    current = sa.select(datasets.c.current_version_id).where(
        datasets.c.id == v.dataset_id).scalar_subquery()
    return sa.select(*[v[c] for c in VERSION_COLUMNS],
                     sa.func.coalesce(v.id == current, False).label("current"))


def versions(conn: sa.Connection, dataset_id: str) -> list[dict[str, Any]]:
    dataset_department(conn, dataset_id)
    v = dataset_versions.c
    rows = conn.execute(_version_select().where(v.dataset_id == dataset_id)
                        .order_by(v.created_at.desc(), v.id.desc())).all()
    return [dict(r._mapping) for r in rows]


def version(conn: sa.Connection, dataset_id: str, version_id: int) -> dict[str, Any]:
    v = dataset_versions.c
    row = conn.execute(_version_select().add_columns(v.report)
                       .where(v.dataset_id == dataset_id, v.id == version_id)).first()
    if row is None:
        raise NotFound(f"Dataset {dataset_id!r} has no version {version_id}")
    return dict(row._mapping)


def department_list(conn: sa.Connection, *, open_only: bool = False) -> list[dict[str, Any]]:
    """Every department with the number of its datasets (open ones only when asked)."""
    on = datasets.c.department_code == departments.c.code
    if open_only:
        on = sa.and_(on, datasets.c.open_type == "open")
    rows = conn.execute(
        sa.select(departments.c.code, departments.c.name, departments.c.short_name,
                  departments.c.name_en, sa.func.count(datasets.c.id).label("datasets"))
        .select_from(departments.outerjoin(datasets, on))
        .where(departments.c.short_name.isnot(None))  # the catalog's departments
        .group_by(departments.c.code, departments.c.name, departments.c.short_name,
                  departments.c.name_en)
        .order_by(departments.c.code)).all()
    return [dict(r._mapping) for r in rows]
