"""The tamper-evident audit log: every write appends a row chained to the one before by
SHA-256 (computed in the database by `cityops_audit_append`, migration 0006), and `verify`
walks the chain and names the first row that does not fit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

ZERO = bytes(32)
# The same canonical text as the append function hashes (migration 0006, AUDIT_TEXT).
RECOMPUTE = sa.text("""
SELECT id, prev_hash, hash,
  sha256(prev_hash || convert_to(id::text || '|'
    || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || actor || '|'
    || action || '|' || entity || '|' || coalesce(entity_id, '') || '|' || data::text, 'UTF8'))
FROM audit_log WHERE id > :after ORDER BY id LIMIT :batch""")


def append(conn: sa.Connection, actor: str, action: str, entity: str,
           entity_id: object = None, data: Mapping[str, Any] | None = None) -> int:
    """Append one row in the caller's transaction (it commits or rolls back with the write it
    records). Call it last in the transaction: it holds the chain's lock until commit."""
    return conn.execute(sa.text(
        "SELECT cityops_audit_append(:actor, :action, :entity, :entity_id, CAST(:data AS jsonb))"),
        {"actor": actor, "action": action, "entity": entity,
         "entity_id": None if entity_id is None else str(entity_id),
         "data": orjson.dumps(dict(data or {}), default=str).decode()}).scalar_one()


APPEND_SQL = "SELECT cityops_audit_append(%s, %s, %s, %s, %s::jsonb)"


def append_with_cursor(cur: object, actor: str, action: str, entity: str,
                       entity_id: object = None, data: Mapping[str, Any] | None = None) -> None:
    """`append` for code holding a psycopg2 cursor (COPY-based loads)."""
    cur.execute(APPEND_SQL, (actor, action, entity,  # type: ignore[attr-defined]
                             None if entity_id is None else str(entity_id),
                             orjson.dumps(dict(data or {}), default=str).decode()))


@dataclass(frozen=True)
class Verdict:
    rows: int
    bad_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.bad_id is None


def verify(conn: sa.Connection, batch: int = 10_000) -> Verdict:
    previous, rows, after = ZERO, 0, 0
    while True:
        chunk = conn.execute(RECOMPUTE, {"after": after, "batch": batch}).all()
        if not chunk:
            return Verdict(rows)
        for row_id, prev_hash, stored, recomputed in chunk:
            if bytes(prev_hash) != previous:
                return Verdict(rows, row_id, (
                    f"row {row_id} does not follow the row before it: a row was deleted "
                    "before it, or it was inserted out of order"))
            if bytes(recomputed) != bytes(stored):
                return Verdict(rows, row_id, f"row {row_id} was altered after it was written")
            previous = bytes(stored)
            rows += 1
            after = row_id
