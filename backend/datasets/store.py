"""The version store: every way data arrives (a steward's file, a department's push, the table
exchange, the demo's generator) ends here, in one new immutable version of one dataset.

A version's rows go to a temporary stage by COPY; the blocking quality rules (the `gate` the
caller passes) see the version's whole content there before anything is stored. Refused: the
version is kept as `rejected` with its report and no rows. Accepted: rows that are new or
changed get `first_seq = seq`, rows that changed or went away get `last_seq = seq`
(migration 0019), the current pointer moves to the new version and the audit chain records it,
all in the caller's transaction.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from backend.audit.chain import append_with_cursor
from backend.errors import Conflict, InvalidInput, NotFound
from backend.ingest.values import copy_escape

STAGE = "dataset_stage"
CONTENT = "dataset_version_content"  # a temporary view: the version's whole content
ARRIVALS = ("file", "push", "exchange", "generator", "layer")


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a version: its key (the dataset's key field, as text), its values by field
    name (JSON-able) and its geometry as hex EWKB in EPSG:4326 (None: no geometry)."""

    key: str | None
    data: Mapping[str, Any]
    geom_hex: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row the arrival path refused before the store (wrong type, bad geometry...)."""

    row: int            # 1-based row number in the source
    reason: str
    key: str | None = None
    field: str | None = None
    value: str | None = None


# (cursor, dataset id, relation with columns key, data, geom) -> failing blocking rules, each
# {"rule": key, "kind": ..., "failed": n, "samples": [...], "message": ...}; [] lets it pass.
Gate = Callable[[Cursor, str, str], list[dict[str, Any]]]


@dataclass
class VersionOutcome:
    version_id: int
    dataset_id: str
    seq: int | None
    status: str                  # accepted | rejected
    rows_total: int = 0
    rows_added: int = 0
    rows_changed: int = 0
    rows_removed: int = 0
    rows_rejected: int = 0
    report: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False       # an earlier version with the same idempotency key

    def notice(self) -> dict[str, Any]:
        """The data.updates event of an accepted version."""
        return {"dataset_id": self.dataset_id, "version_id": self.version_id, "seq": self.seq,
                "rows_added": self.rows_added, "rows_changed": self.rows_changed,
                "rows_removed": self.rows_removed, "rows_total": self.rows_total}


def _cursor(conn: sa.Connection) -> Cursor:
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


# Rows (key, data, geom) of one version (seq) of one dataset, with psycopg2 parameters
# %(dataset)s and %(seq)s.
CONTENT_SQL = ("SELECT key, data, geom FROM dataset_rows WHERE dataset_id = %(dataset)s "
               "AND first_seq <= %(seq)s AND (last_seq IS NULL OR last_seq > %(seq)s)")


class KeyAssigner:
    """Store keys for the rows of a source, one at a time: the key itself, `key#2`, `key#3`
    for repeats and `~row` for a row without one. The data keeps its values, so the uniqueness
    and completeness rules still see the repeats and the gaps; the store needs one row per
    key."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._row = 0

    def __call__(self, key: str | None) -> str:
        self._row += 1
        if key is None or key == "":
            return f"~{self._row}"
        n = self._seen.get(key, 0) + 1
        self._seen[key] = n
        return key if n == 1 else f"{key}#{n}"


def unique_keys(keys: Iterable[str | None]) -> list[str]:
    assign = KeyAssigner()
    return [assign(k) for k in keys]


def write_version(
    conn: sa.Connection, *, dataset_id: str, rows: Iterable[Row], arrival: str, actor: str,
    source: str | None = None, mode: str = "full", deletes: Sequence[str] = (),
    idempotency_key: str | None = None, rejected: Sequence[Rejection] = (),
    gate: Gate | None = None, report_rows: int = 200,
) -> VersionOutcome:
    """Write one version in the caller's transaction (commit it to keep the version).
    `mode='full'`: the rows are the whole content; `incremental`: they replace or add rows
    by key, and `deletes` names keys that went away. Rows with a repeated or missing key get
    store keys from `unique_keys` when the caller passes key None for them."""
    if arrival not in ARRIVALS:
        raise InvalidInput(f"arrival must be one of {', '.join(ARRIVALS)}")
    if mode not in ("full", "incremental"):
        raise InvalidInput("mode must be full or incremental")
    cur = _cursor(conn)
    cur.execute("SELECT storage, latest_seq FROM datasets WHERE id = %s FOR UPDATE",
                (dataset_id,))
    found = cur.fetchone()
    if found is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    storage, latest = found
    if storage == "layer":  # a catalog entry with metadata only is collected by its first
        raise Conflict(f"dataset {dataset_id} is a map layer: its data is its layer's table "
                       "(load it with cityops ingest --layer)")
    if idempotency_key is not None:
        replay = _by_key(cur, dataset_id, idempotency_key)
        if replay is not None:
            return replay
    staged = _stage(cur, rows)
    shown = [_rejection_json(r) for r in rejected[:report_rows]]
    report: dict[str, Any] = {"rejected_rows": shown, "rejected_more": max(
        0, len(rejected) - len(shown))}
    _content_view(cur, dataset_id, mode, deletes)
    failures = gate(cur, dataset_id, CONTENT) if gate is not None else []
    if failures:
        report["blocking"] = failures
        outcome = _insert_version(
            cur, dataset_id, None, "rejected", arrival, mode, source, idempotency_key, actor,
            counts=(staged, 0, 0, 0, len(rejected)), report=report)
        _drop_temp(cur)
        append_with_cursor(cur, actor, "dataset.version.rejected", "dataset", dataset_id,
                           {"version_id": outcome.version_id, "arrival": arrival,
                            "rows": staged, "blocking": [f["rule"] for f in failures]})
        return outcome
    seq = latest + 1
    added, changed, removed = _apply(cur, dataset_id, seq, mode, deletes)
    cur.execute("SELECT count(*) FROM dataset_rows WHERE dataset_id = %s AND last_seq IS NULL",
                (dataset_id,))
    total = cur.fetchone()[0]
    outcome = _insert_version(
        cur, dataset_id, seq, "accepted", arrival, mode, source, idempotency_key, actor,
        counts=(total, added, changed, removed, len(rejected)), report=report)
    cur.execute("UPDATE datasets SET current_version_id = %s, latest_seq = %s, "
                "last_updated_at = now(), updated_at = now(), storage = 'rows' WHERE id = %s",
                (outcome.version_id, seq, dataset_id))
    _drop_temp(cur)
    append_with_cursor(cur, actor, "dataset.version", "dataset", dataset_id,
                       {"version_id": outcome.version_id, "seq": seq, "arrival": arrival,
                        "mode": mode, "source": source, "added": added, "changed": changed,
                        "removed": removed, "rejected": len(rejected)})
    return outcome


def set_current(conn: sa.Connection, *, dataset_id: str, version_id: int,
                actor: str) -> VersionOutcome:
    """Move the current pointer to an accepted version (a rollback, or forward again)."""
    cur = _cursor(conn)
    cur.execute("SELECT 1 FROM datasets WHERE id = %s FOR UPDATE", (dataset_id,))
    if cur.fetchone() is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    cur.execute(f"SELECT {_COLUMNS} FROM dataset_versions WHERE id = %s "  # noqa: S608
                "AND dataset_id = %s",
                (version_id, dataset_id))
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"dataset {dataset_id} has no version {version_id}")
    outcome = _outcome(row)
    if outcome.status != "accepted":
        raise Conflict(f"version {version_id} was rejected: it can never be current")
    cur.execute("UPDATE datasets SET current_version_id = %s, last_updated_at = now(), "
                "updated_at = now() WHERE id = %s", (version_id, dataset_id))
    append_with_cursor(cur, actor, "dataset.current", "dataset", dataset_id,
                       {"version_id": version_id, "seq": outcome.seq})
    return outcome


# -- inside -------------------------------------------------------------------------------------

_COLUMNS = ("id, dataset_id, seq, status, rows_total, rows_added, rows_changed, rows_removed, "
            "rows_rejected, report")


def _outcome(row: Sequence[Any], replayed: bool = False) -> VersionOutcome:
    return VersionOutcome(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                          row[8], row[9], replayed)


def _by_key(cur: Cursor, dataset_id: str, key: str) -> VersionOutcome | None:
    cur.execute(f"SELECT {_COLUMNS} FROM dataset_versions "  # noqa: S608 (constant)
                "WHERE dataset_id = %s AND idempotency_key = %s", (dataset_id, key))
    row = cur.fetchone()
    return None if row is None else _outcome(row, replayed=True)


def _rejection_json(r: Rejection) -> dict[str, Any]:
    return {"row": r.row, "key": r.key, "field": r.field, "value": r.value, "reason": r.reason}


COPY_BATCH = 100_000


def _stage(cur: Cursor, rows: Iterable[Row]) -> int:
    stage = sql.Identifier(STAGE)
    cur.execute(sql.SQL("CREATE TEMP TABLE {} (key text, data jsonb, geom geometry) "
                        "ON COMMIT DROP").format(stage))
    copy = sql.SQL("COPY {} (key, data, geom) FROM STDIN").format(stage).as_string(cur)
    assign = KeyAssigner()
    buf = io.StringIO()
    count = 0
    dumps, opts = orjson.dumps, orjson.OPT_NON_STR_KEYS
    for row in rows:
        values = row.data if type(row.data) is dict else dict(row.data)
        # orjson escapes control characters: only a backslash needs COPY's escape
        data = dumps(values, default=str, option=opts).decode()
        if "\\" in data:
            data = data.replace("\\", "\\\\")
        buf.write(f"{copy_escape(assign(row.key))}\t{data}\t{copy_escape(row.geom_hex)}\n")
        count += 1
        if count % COPY_BATCH == 0:
            buf.seek(0)
            cur.copy_expert(copy, buf)
            buf = io.StringIO()
    buf.seek(0)
    cur.copy_expert(copy, buf)
    cur.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (key)").format(stage))
    cur.execute(sql.SQL("ANALYZE {}").format(stage))
    return count


def _content_view(cur: Cursor, dataset_id: str, mode: str, deletes: Sequence[str]) -> None:
    stage = sql.Identifier(STAGE)
    if mode == "full":
        body = sql.SQL("SELECT key, data, geom FROM {}").format(stage)
    else:
        body = sql.SQL(
            "SELECT r.key, r.data, r.geom FROM dataset_rows r WHERE r.dataset_id = {ds} "
            "AND r.last_seq IS NULL AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.key = r.key)"
            " AND NOT (r.key = ANY ({deletes})) UNION ALL SELECT key, data, geom FROM {stage}"
        ).format(ds=sql.Literal(dataset_id), stage=stage,
                 deletes=sql.Literal(list(deletes)) + sql.SQL("::text[]"))
    cur.execute(sql.SQL("CREATE TEMP VIEW {} AS ").format(sql.Identifier(CONTENT)) + body)


def _drop_temp(cur: Cursor) -> None:
    cur.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(CONTENT)))
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGE)))


def _apply(cur: Cursor, dataset_id: str, seq: int, mode: str,
           deletes: Sequence[str]) -> tuple[int, int, int]:
    """Close changed and removed rows, insert new and changed ones: (added, changed, removed)."""
    stage = sql.Identifier(STAGE)
    insert = sql.SQL("INSERT INTO dataset_rows (dataset_id, key, first_seq, data, geom) "
                     "SELECT %s, s.key, %s, s.data, s.geom FROM {} s").format(stage)
    cur.execute("SELECT EXISTS (SELECT 1 FROM dataset_rows WHERE dataset_id = %s "
                "AND last_seq IS NULL)", (dataset_id,))
    if not cur.fetchone()[0]:  # nothing live (a first version): every staged row is new
        cur.execute(insert, (dataset_id, seq))
        return cur.rowcount, 0, 0
    if mode == "full":
        # One pass retires the changed rows and the removed ones; the live rows left are the
        # unchanged ones, and every staged key without one goes in.
        cur.execute(sql.SQL(
            "WITH retired AS (UPDATE dataset_rows r SET last_seq = %s WHERE r.dataset_id = %s "
            "AND r.last_seq IS NULL AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.key = r.key "
            "AND s.data IS NOT DISTINCT FROM r.data AND s.geom IS NOT DISTINCT FROM r.geom) "
            "RETURNING r.key) SELECT count(*), count(s.key) FROM retired LEFT JOIN {stage} s "
            "USING (key)").format(stage=stage), (seq, dataset_id))
        retired, changed = cur.fetchone()
        cur.execute(insert + sql.SQL(
            " WHERE NOT EXISTS (SELECT 1 FROM dataset_rows r WHERE r.dataset_id = %s "
            "AND r.last_seq IS NULL AND r.key = s.key)"), (dataset_id, seq, dataset_id))
        return cur.rowcount - changed, changed, retired - changed
    cur.execute(sql.SQL(
        "CREATE TEMP TABLE dataset_diff ON COMMIT DROP AS "
        "SELECT s.key, r.key IS NULL AS added FROM {stage} s LEFT JOIN dataset_rows r "
        "ON r.dataset_id = %s AND r.last_seq IS NULL AND r.key = s.key "
        "WHERE r.key IS NULL OR r.data IS DISTINCT FROM s.data "
        "OR NOT (r.geom IS NOT DISTINCT FROM s.geom)").format(stage=stage), (dataset_id,))
    cur.execute("SELECT count(*) FILTER (WHERE added), count(*) FILTER (WHERE NOT added) "
                "FROM dataset_diff")
    added, changed = cur.fetchone()
    cur.execute("UPDATE dataset_rows r SET last_seq = %s FROM dataset_diff d "
                "WHERE r.dataset_id = %s AND r.last_seq IS NULL AND r.key = d.key "
                "AND NOT d.added", (seq, dataset_id))
    cur.execute("UPDATE dataset_rows SET last_seq = %s WHERE dataset_id = %s "
                "AND last_seq IS NULL AND key = ANY (%s::text[])",
                (seq, dataset_id, list(deletes)))
    removed = cur.rowcount
    cur.execute(insert + sql.SQL(" JOIN dataset_diff d USING (key)"), (dataset_id, seq))
    cur.execute("DROP TABLE dataset_diff")
    return added, changed, removed


def _insert_version(cur: Cursor, dataset_id: str, seq: int | None, status: str, arrival: str,
                    mode: str, source: str | None, key: str | None, actor: str, *,
                    counts: tuple[int, int, int, int, int],
                    report: dict[str, Any]) -> VersionOutcome:
    total, added, changed, removed, rejected = counts
    cur.execute(
        "INSERT INTO dataset_versions (dataset_id, seq, status, arrival, mode, source, "
        "idempotency_key, created_by, rows_total, rows_added, rows_changed, rows_removed, "
        "rows_rejected, report) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "%s::jsonb) RETURNING id",
        (dataset_id, seq, status, arrival, mode, source, key, actor, total, added, changed,
         removed, rejected, orjson.dumps(report, default=str).decode()))
    version_id = cur.fetchone()[0]
    return VersionOutcome(version_id, dataset_id, seq, status, total, added, changed, removed,
                          rejected, report)


def record_layer_load(cur: Cursor, *, layer_id: str, table: str, source: str | None,
                      actor: str, added: int = 0, changed: int = 0, removed: int = 0,
                      rejected: int = 0) -> VersionOutcome | None:
    """A load into a map layer's own table is a new version of the dataset that layer is
    (storage 'layer'): counted and made current here, in the load's transaction. The rows stay
    the layer's table (a layer's history is its loads, not copies of its rows). None when no
    dataset is that layer (the catalog not synced yet)."""
    cur.execute("SELECT id, latest_seq FROM datasets WHERE layer_id = %s FOR UPDATE",
                (layer_id,))
    found = cur.fetchone()
    if found is None:
        return None
    dataset_id, latest = found
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    total = cur.fetchone()[0]
    outcome = _insert_version(
        cur, dataset_id, latest + 1, "accepted", "layer", "full", source, None, actor,
        counts=(total, added, changed, removed, rejected), report={})
    cur.execute("UPDATE datasets SET current_version_id = %s, latest_seq = %s, "
                "last_updated_at = now(), updated_at = now() WHERE id = %s",
                (outcome.version_id, latest + 1, dataset_id))
    return outcome
