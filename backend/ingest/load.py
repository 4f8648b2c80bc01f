"""The database side of a file load, inside the caller's transaction.

Rows are COPYed into a temporary stage table shaped like the target (same column types, no
constraints), checked there against the target's own CHECK and UNIQUE constraints (read from
the catalog, so a new constraint is enforced without code changes), then written with one
DELETE (full sync) and one INSERT ... ON CONFLICT (source, source_key) DO UPDATE.
Identifiers are composed with psycopg2.sql; values are always bound.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely
import sqlalchemy as sa
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor
from shapely.geometry.base import BaseGeometry

from backend.ingest.values import copy_escape

STAGE = "_cityops_ingest_stage"


@dataclass(frozen=True)
class StagedRow:
    row: int  # 1-based position in the file
    ok: bool
    key: str
    geom_hex: str | None
    values: Sequence[str | None]


@dataclass(frozen=True)
class WriteCounts:
    inserted: int
    updated: int
    deleted: int


def county_boundary(engine: sa.Engine) -> BaseGeometry | None:
    """The union of the county table's rows, or None when it is empty."""
    with engine.connect() as conn:
        wkb = conn.execute(sa.text("SELECT ST_AsBinary(ST_Union(geom)) FROM county")).scalar()
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else None


def county_codes(engine: sa.Engine) -> set[str]:
    """The administrative codes of the county table's rows (a device id's centre code)."""
    with engine.connect() as conn:
        return {str(c) for c in conn.execute(sa.text("SELECT code FROM county")).scalars()}


def lock_source(cur: Cursor, table: str, source: str) -> None:
    """Serialise loads of the same source into the same table (full sync reads then deletes)."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"cityops.ingest:{table}:{source}",))


def create_stage(cur: Cursor, table: str, geom: str, columns: Sequence[str]) -> None:
    cols = [sql.Identifier(c) for c in ("source_key", geom, *columns)]
    cur.execute(sql.SQL(
        "CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
        "SELECT NULL::integer AS _row, true AS _ok, {cols} FROM {table} WITH NO DATA"
    ).format(stage=sql.Identifier(STAGE), cols=sql.SQL(", ").join(cols),
             table=sql.Identifier(table)))


def copy_rows(cur: Cursor, rows: Iterable[StagedRow]) -> None:
    buf = io.StringIO()
    for r in rows:
        fields = [str(r.row), "t" if r.ok else "f", r.key, r.geom_hex, *r.values]
        buf.write("\t".join(copy_escape(v) for v in fields))
        buf.write("\n")
    buf.seek(0)
    cur.copy_expert(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(STAGE)), buf)


def analyze_stage(cur: Cursor) -> None:
    cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(STAGE)))


def mark_rejected(cur: Cursor, rows: Iterable[int]) -> None:
    rows = list(rows)
    if not rows:
        return
    cur.execute(sql.SQL("UPDATE {} SET _ok = false WHERE _row = ANY(%s)")
                .format(sql.Identifier(STAGE)), (rows,))


def _qualified(cur: Cursor, table: str) -> str:
    return sql.Identifier(table).as_string(cur)


def check_constraints(
    cur: Cursor, table: str, available: set[str], readable: dict[str, str]
) -> list[tuple[int, str, str]]:
    """Rows breaking one of the table's CHECK constraints: (row, key, reason). Only constraints
    on columns the file provides are evaluated (others keep their default or stored value)."""
    cur.execute(
        "SELECT c.conname, pg_get_constraintdef(c.oid), array_agg(a.attname::text) "
        "FROM pg_constraint c JOIN pg_attribute a "
        "  ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
        "WHERE c.conrelid = %s::regclass AND c.contype = 'c' GROUP BY c.oid, c.conname",
        (_qualified(cur, table),),
    )
    out: list[tuple[int, str, str]] = []
    for name, definition, cols in cur.fetchall():
        if not set(cols) <= available:
            continue
        expr = definition.removeprefix("CHECK ").removesuffix(" NOT VALID")
        ids = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
        cur.execute(sql.SQL(  # the expression comes from pg_constraint, not from the file
            "SELECT _row, source_key, {ids} FROM {stage} WHERE _ok AND ({expr}) IS FALSE"
        ).format(ids=ids, stage=sql.Identifier(STAGE), expr=sql.SQL(expr)))
        rule = readable.get(name, expr)
        for row, key, *values in cur.fetchall():
            shown = ", ".join(f"{c}={v!r}" for c, v in zip(cols, values, strict=True))
            out.append((row, key, f"{shown} is not allowed: must satisfy {rule}"))
    return out


def unique_conflicts(
    cur: Cursor, table: str, available: set[str], *, source: str, append: bool
) -> list[tuple[int, str, str]]:
    """Rows whose UNIQUE columns (other than source + source_key) repeat inside the file or
    collide with a row that will remain in the table."""
    cur.execute(
        "SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s::regclass AND i.indisunique AND NOT i.indisprimary "
        "  AND i.indexprs IS NULL AND i.indpred IS NULL GROUP BY i.indexrelid",
        (_qualified(cur, table),),
    )
    out: list[tuple[int, str, str]] = []
    stage, target = sql.Identifier(STAGE), sql.Identifier(table)
    for (cols,) in cur.fetchall():
        if set(cols) == {"source", "source_key"} or not set(cols) <= available:
            continue
        ids = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
        not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c))
                                         for c in cols)
        cur.execute(sql.SQL(
            "SELECT array_agg(_row ORDER BY _row), array_agg(source_key ORDER BY _row), {ids} "
            "FROM {stage} WHERE _ok AND {nn} GROUP BY {ids} HAVING count(*) > 1"
        ).format(ids=ids, stage=stage, nn=not_null))
        for rows, keys, *values in cur.fetchall():
            shown = ", ".join(f"{c}={v!r}" for c, v in zip(cols, values, strict=True))
            for row, key in zip(rows, keys, strict=True):
                out.append((row, key, f"{shown} appears on rows {rows[:5]}; it must be unique"))
        join = sql.SQL(" AND ").join(
            sql.SQL("x.{c} = s.{c}").format(c=sql.Identifier(c)) for c in cols)
        cur.execute(sql.SQL(
            "SELECT s._row, s.source_key, x.source, x.source_key, {sids} "
            "FROM {stage} s JOIN {target} x ON {join} "
            "WHERE s._ok AND NOT (x.source = %(source)s AND (x.source_key = s.source_key OR "
            "  (NOT %(append)s AND NOT EXISTS "
            "    (SELECT 1 FROM {stage} k WHERE k.source_key = x.source_key))))"
        ).format(sids=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c))
                                         for c in cols),
                 stage=stage, target=target, join=join),
            {"source": source, "append": append})
        for row, key, other_source, other_key, *values in cur.fetchall():
            shown = ", ".join(f"{c}={v!r}" for c, v in zip(cols, values, strict=True))
            out.append((row, key, f"{shown} is already used by source {other_source!r} key "
                                  f"{other_key!r}; it must be unique in {table}"))
    return out


def write(
    cur: Cursor, table: str, geom: str, columns: Sequence[str], *, source: str, append: bool
) -> WriteCounts:
    stage, target = sql.Identifier(STAGE), sql.Identifier(table)
    deleted = 0
    if not append:
        # Keys present in the file, even on rejected rows, are kept: a bad row must not
        # delete the stored version of its feature.
        cur.execute(sql.SQL(
            "DELETE FROM {target} t WHERE t.source = %s AND NOT EXISTS "
            "(SELECT 1 FROM {stage} s WHERE s.source_key = t.source_key)"
        ).format(target=target, stage=stage), (source,))
        deleted = cur.rowcount
    data = [geom, *columns]
    ids = sql.SQL(", ").join(sql.Identifier(c) for c in data)
    sets = sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                              for c in data)
    # Compare geometries as EWKB bytes: exact, and no reliance on the geometry "=" operator.
    old = sql.SQL(", ").join(
        [sql.SQL("ST_AsEWKB(t.{})").format(sql.Identifier(geom))]
        + [sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns])
    new = sql.SQL(", ").join(
        [sql.SQL("ST_AsEWKB(EXCLUDED.{})").format(sql.Identifier(geom))]
        + [sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in columns])
    cur.execute(sql.SQL(
        "INSERT INTO {target} AS t (source, source_key, {ids}) "
        "SELECT %s, source_key, {ids} FROM {stage} WHERE _ok ORDER BY _row "
        "ON CONFLICT (source, source_key) DO UPDATE SET {sets}, updated_at = now() "
        "WHERE ROW({old}) IS DISTINCT FROM ROW({new}) "
        "RETURNING (xmax = 0)"  # true for a fresh insert, false for an update
    ).format(target=target, ids=ids, stage=stage, sets=sets, old=old, new=new), (source,))
    flags = [bool(f) for (f,) in cur.fetchall()]
    inserted = sum(flags)
    return WriteCounts(inserted=inserted, updated=len(flags) - inserted, deleted=deleted)
