"""The tamper-evident audit log: every write appends a row chained to the one before by
SHA-256 (computed in the database by `cityops_audit_append`, migration 0006), and `verify`
walks the chain and names the first row that does not fit."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from backend.audit.actor import resolve

if TYPE_CHECKING:
    from backend.audit.anchors import ReadAnchor

ZERO = bytes(32)
# A row's canonical text: the same as the append function hashes (migration 0006, AUDIT_TEXT).
CANONICAL = """convert_to(id::text || '|'
    || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || actor || '|'
    || action || '|' || entity || '|' || coalesce(entity_id, '') || '|' || data::text, 'UTF8')"""
RECOMPUTE = sa.text(f"""
SELECT id, prev_hash, hash, sha256(prev_hash || {CANONICAL})
FROM audit_log WHERE id > :after ORDER BY id LIMIT :batch""")  # noqa: S608 (a constant)


def append(conn: sa.Connection, actor: str | None, action: str, entity: str,
           entity_id: object = None, data: Mapping[str, Any] | None = None) -> int:
    """Append one row in the caller's transaction (it commits or rolls back with the write it
    records). Call it last in the transaction: it holds the chain's lock until commit. Inside
    a request (or a CLI command) the bound caller is recorded, whatever `actor` says; None
    means "whoever is bound" ("system" when nothing is: backend.audit.actor)."""
    return conn.execute(sa.text(
        "SELECT cityops_audit_append(:actor, :action, :entity, :entity_id, CAST(:data AS jsonb))"),
        {"actor": resolve(actor), "action": action, "entity": entity,
         "entity_id": None if entity_id is None else str(entity_id),
         "data": orjson.dumps(dict(data or {}), default=str).decode()}).scalar_one()


APPEND_SQL = "SELECT cityops_audit_append(%s, %s, %s, %s, %s::jsonb)"


def append_with_cursor(cur: object, actor: str | None, action: str, entity: str,
                       entity_id: object = None, data: Mapping[str, Any] | None = None) -> None:
    """`append` for code holding a psycopg2 cursor (COPY-based loads)."""
    cur.execute(APPEND_SQL, (resolve(actor), action, entity,  # type: ignore[attr-defined]
                             None if entity_id is None else str(entity_id),
                             orjson.dumps(dict(data or {}), default=str).decode()))


@dataclass(frozen=True)
class Verdict:
    rows: int
    bad_id: int | None = None
    problem: str | None = None
    anchors: int = 0                 # anchors the chain agreed with
    anchor_line: int | None = None   # the line of the first anchor it contradicts

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(conn: sa.Connection, batch: int = 10_000, anchors: Sequence[ReadAnchor] = (),
           anchors_file: Path | None = None) -> Verdict:
    """Walk the chain in id order: each row must follow the one before and hash to what it
    stores; each anchor's row must be there, be the anchor's `rows`-th row and carry its hash.
    Stops at the first problem, naming the row or the (earliest) anchor it contradicts."""
    pending = deque(sorted(anchors, key=lambda r: (r.anchor.last_id, r.line_no)))
    where = anchors_file or Path("the anchors file")
    previous, rows, after, met = ZERO, 0, 0, 0

    def contradicted(read: ReadAnchor, why: str) -> Verdict:
        return Verdict(rows, read.anchor.last_id,
                       f"{read.anchor.describe(read.line_no, where)} is contradicted: {why}",
                       met, read.line_no)

    while True:
        chunk = conn.execute(RECOMPUTE, {"after": after, "batch": batch}).all()
        if not chunk:
            break
        for row_id, prev_hash, stored, recomputed in chunk:
            if bytes(prev_hash) != previous:
                return Verdict(rows, row_id, (
                    f"row {row_id} does not follow the row before it: a row was deleted "
                    "before it, or it was inserted out of order"), met)
            if bytes(recomputed) != bytes(stored):
                return Verdict(rows, row_id, f"row {row_id} was altered after it was written",
                               met)
            # Anchors of rows before this one were not met: their row was deleted.
            if pending and pending[0].anchor.last_id < row_id:
                return contradicted(pending[0], f"its row {pending[0].anchor.last_id} is "
                                                "missing: rows were deleted")
            previous = bytes(stored)
            rows += 1
            after = row_id
            while pending and pending[0].anchor.last_id == row_id:
                read = pending.popleft()
                if read.anchor.hash != previous.hex():
                    return contradicted(read, f"row {row_id} now has another hash: the chain "
                                              "was rewritten at or before it")
                if read.anchor.rows != rows:
                    return contradicted(read, f"row {row_id} is now row number {rows}, "
                                              "not the anchored one: rows were removed or "
                                              "added before it")
                met += 1
    if pending:
        return contradicted(pending[0], (
            f"the chain ends at row {after or 'none'} with {rows} rows: rows were deleted "
            "from its end"))
    return Verdict(rows, anchors=met)
