"""The runner: a dataset's enabled rules over its content, recorded as one quality run with one
result per rule.

The relation is the current (or given) version's content for storage 'rows' (the store's
CONTENT_SQL), the layer's table for storage 'layer' (key, `to_jsonb(t) - 'geom' - 'geom_3857'`
as data, geom; table and key from the layer catalog) and nothing for metadata-only datasets
(timeliness only). `evaluate` is shared with the blocking gate."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from backend.datasets.store import CONTENT_SQL
from backend.errors import Conflict, NotFound
from backend.quality import checks, geochecks
from backend.quality.kinds import KINDS
from backend.quality.timeliness import timely

if TYPE_CHECKING:
    from backend.catalog.layers import LayerCatalog
    from backend.incidents.calendar import WorkCalendar

TRIGGERS = ("version", "schedule", "manual")
log = logging.getLogger("cityops.quality")


@dataclass
class DatasetInfo:
    id: str
    storage: str
    layer_id: str | None
    current_version_id: int | None
    last_updated_at: datetime | None


def _cursor(conn: sa.Connection) -> Cursor:
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def load_rules(cur: Cursor, dataset_id: str, *, blocking_only: bool = False
               ) -> list[checks.RuleRow]:
    cur.execute("SELECT id, rule_key, kind, dimension, params, blocking FROM quality_rules "
                "WHERE dataset_id = %s AND enabled AND (blocking OR NOT %s) ORDER BY id",
                (dataset_id, blocking_only))
    return [checks.RuleRow(*row) for row in cur.fetchall() if row[2] in KINDS]


def content_relation(cur: Cursor, dataset_id: str, seq: int) -> sql.Composable:
    return sql.SQL("({})").format(sql.SQL(cur.mogrify(
        CONTENT_SQL, {"dataset": dataset_id, "seq": seq}).decode()))


def layer_relation(layers: LayerCatalog | None, layer_id: str) -> sql.Composable | None:
    spec = layers.get(layer_id) if layers is not None else None
    if spec is None or spec.source.kind != "table":
        return None
    src = spec.source
    return sql.SQL("(SELECT t.{key}::text AS key, to_jsonb(t) - 'geom' - 'geom_3857' AS data, "
                   "t.{geom}::geometry AS geom FROM {table} AS t)").format(
        key=sql.Identifier(src.key), geom=sql.Identifier(src.geometry_column),
        table=sql.Identifier(src.table))  # type: ignore[union-attr]


def resolver(cur: Cursor, layers: LayerCatalog | None) -> Any:
    """Another dataset's current content (key, data), None when it has none."""
    def resolve(dataset_id: str) -> sql.Composable | None:
        cur.execute("SELECT d.storage, d.layer_id, v.seq FROM datasets d LEFT JOIN "
                    "dataset_versions v ON v.id = d.current_version_id WHERE d.id = %s",
                    (dataset_id,))
        row = cur.fetchone()
        if row is None:
            return None
        storage, layer_id, seq = row
        if storage == "rows" and seq is not None:
            return content_relation(cur, dataset_id, seq)
        if storage == "layer" and layer_id:
            return layer_relation(layers, layer_id)
        return None
    return resolve


def evaluate(cur: Cursor, rules: Sequence[checks.RuleRow], relation: sql.Composable | None,
             *, resolve: Any, dataset: DatasetInfo | None = None,
             calendar: WorkCalendar | None = None, now: datetime | None = None
             ) -> tuple[int, list[checks.Outcome]]:
    """(rows checked, an outcome per rule it could check): without a relation only the
    dataset-level rules; without a dataset or calendar, no timeliness."""
    by_mode: dict[str, list[checks.RuleRow]] = {}
    for r in rules:
        by_mode.setdefault(KINDS[r.kind].mode, []).append(r)
    out: list[checks.Outcome] = []
    total = 0
    if relation is not None:
        preds = by_mode.get("predicate", [])
        groups = by_mode.get("group", [])
        uniques = [r for r in groups if r.kind == "unique"]
        total, found, keyed = checks.scan(cur, relation, preds, uniques)
        out += found
        out += checks.check_digit_columns(cur, relation, by_mode.get("column", []))
        out += checks.joins(cur, relation, by_mode.get("join", []), resolve)
        for r in groups:
            if r.kind == "unique":
                fast = checks.unique_from_keys(r, *keyed[r.id])
                out.append(fast if fast is not None else checks.unique(cur, relation, r))
            elif r.kind == "gcj02_plausible":
                out.append(geochecks.gcj02(cur, relation, r))
        out += geochecks.coverage(cur, relation, [r for r in groups if r.kind in
                                                  ("no_overlaps", "no_gaps")])
    if dataset is not None and calendar is not None:
        for r in by_mode.get("dataset", []):
            out.append(timely(r, dataset.last_updated_at, calendar, now or datetime.now(UTC)))
    order = {r.id: i for i, r in enumerate(rules)}
    out.sort(key=lambda o: order[o.rule.id])
    return total, out


def _dataset(cur: Cursor, dataset_id: str) -> DatasetInfo:
    cur.execute("SELECT id, storage, layer_id, current_version_id, last_updated_at "
                "FROM datasets WHERE id = %s", (dataset_id,))
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    return DatasetInfo(*row)


def run_dataset(engine: sa.Engine, dataset_id: str, *, trigger: str,
                calendar: WorkCalendar | None, version_id: int | None = None,
                layers: LayerCatalog | None = None, now: datetime | None = None,
                catalog_dir: Path | None = None) -> int:
    """Run every enabled rule of the dataset over the current version (or `version_id`, an
    accepted one); returns the quality run's id. With `catalog_dir` (its quality weights) and
    a calendar, what follows a run follows it: the dataset's tasks, today's scores."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    with engine.begin() as conn:
        cur = _cursor(conn)
        ds = _dataset(cur, dataset_id)
        started = datetime.now(UTC)
        relation = None
        version = version_id if version_id is not None else ds.current_version_id
        if ds.storage == "rows" and version is not None:
            cur.execute("SELECT seq, status FROM dataset_versions WHERE id = %s AND "
                        "dataset_id = %s", (version, dataset_id))
            found = cur.fetchone()
            if found is None:
                raise NotFound(f"dataset {dataset_id} has no version {version}")
            if found[1] != "accepted":
                raise Conflict(f"version {version} was rejected: it has no content to check")
            relation = content_relation(cur, dataset_id, found[0])
        elif ds.storage == "layer" and ds.layer_id:
            relation = layer_relation(layers, ds.layer_id)
        rules = load_rules(cur, dataset_id)
        # Hash joins and aggregates in memory for this run's transaction only.
        cur.execute("SET LOCAL work_mem = '64MB'")
        total, outcomes = evaluate(cur, rules, relation, resolve=resolver(cur, layers),
                                   dataset=ds, calendar=calendar, now=now)
        cur.execute("INSERT INTO quality_runs (dataset_id, version_id, trigger, started_at, "
                    "finished_at, rows_checked) VALUES (%s, %s, %s, %s, clock_timestamp(), %s) "
                    "RETURNING id", (dataset_id, version if ds.storage == "rows" else None,
                                     trigger, started, total))
        run_id = int(cur.fetchone()[0])
        for o in outcomes:
            cur.execute("INSERT INTO quality_results (run_id, rule_id, checked, failed, "
                        "samples, message) VALUES (%s, %s, %s, %s, %s::jsonb, %s)",
                        (run_id, o.rule.id, o.checked, o.failed,
                         orjson.dumps(o.samples, default=str).decode(), o.message))
    if catalog_dir is not None and calendar is not None:
        from backend.catalog.quality_weights import quality_weights
        from backend.quality.tasks import after_run

        after_run(engine, run_id, calendar, quality_weights(catalog_dir))
    return run_id


def datasets_with_data(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT id FROM datasets WHERE (storage = 'rows' AND current_version_id IS NOT "
            "NULL) OR storage = 'layer' ORDER BY id")).scalars())


def _each(engine: sa.Engine, ids: list[str], **kw: Any) -> list[int]:
    """A run per dataset; one that fails is logged and the others still run."""
    runs = []
    for dataset_id in ids:
        try:
            runs.append(run_dataset(engine, dataset_id, **kw))
        except Exception:  # noqa: BLE001 (a broken dataset must not stop the others)
            log.exception("quality run of %s failed", dataset_id)
    return runs


def run_all(engine: sa.Engine, calendar: WorkCalendar | None, *,
            layers: LayerCatalog | None = None, trigger: str = "schedule",
            catalog_dir: Path | None = None) -> list[int]:
    """A run of every dataset with data (the schedule)."""
    return _each(engine, datasets_with_data(engine), trigger=trigger, calendar=calendar,
                 layers=layers, catalog_dir=catalog_dir)


def run_new_versions(engine: sa.Engine, calendar: WorkCalendar | None, *,
                     layers: LayerCatalog | None = None,
                     catalog_dir: Path | None = None) -> list[int]:
    """Runs of the datasets whose current version has no run yet (after accepted versions)."""
    with engine.connect() as conn:
        due = list(conn.execute(sa.text(
            "SELECT d.id FROM datasets d WHERE d.storage = 'rows' AND d.current_version_id IS "
            "NOT NULL AND NOT EXISTS (SELECT 1 FROM quality_runs r WHERE r.dataset_id = d.id "
            "AND r.version_id = d.current_version_id) ORDER BY d.id")).scalars())
    return _each(engine, due, trigger="version", calendar=calendar, layers=layers,
                 catalog_dir=catalog_dir)
