"""Evaluating a dataset's rules over one relation (`key text, data jsonb, geom geometry`) with
one psycopg2 cursor: every predicate rule in ONE scan, the check-digit columns in one stream,
each linked dataset in one join, uniqueness and coverage each once. Used by the runner (the
current content, the layer's table) and by the blocking gate (the store's temporary view)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from backend.quality import digits
from backend.quality.kinds import KINDS, Params, field_text, parse_params, predicate

SAMPLES = 5
STREAM_BATCH = 50_000


@dataclass
class RuleRow:
    id: int
    rule_key: str
    kind: str
    dimension: str
    params: dict[str, Any]
    blocking: bool = False

    @property
    def parsed(self) -> Params:
        return parse_params(self.kind, self.params)


@dataclass
class Outcome:
    rule: RuleRow
    checked: int
    failed: int
    samples: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""


# How another dataset's rows are read: (relation SQL giving key, data; or None when empty).
Resolver = Any  # Callable[[str], sql.Composable | None]


def sample(key: Any, value: Any, reason: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "value": value, "reason": reason, **extra}


def _message(rule: RuleRow, checked: int, failed: int) -> str:
    name = KINDS[rule.kind].name
    if checked == 0:
        return f"{name}：无可检查的数据"
    if failed == 0:
        return f"{name}：{checked} 条全部通过"
    return f"{name}：{checked} 条中 {failed} 条未通过"


def _samples(raw: Sequence[Any] | None) -> list[dict[str, Any]]:
    return [sample(k, v, r) for k, v, r in (raw or [])]


def scan(cur: Cursor, relation: sql.Composable, rules: Sequence[RuleRow],
         uniques: Sequence[RuleRow] = ()) -> tuple[int, list[Outcome], dict[int, tuple[int, int]]]:
    """(rows in the relation, the predicate rules' outcomes, per unique rule (values present,
    rows whose store key is not their value)), in one scan. Each field is extracted from the
    jsonb once per row and each predicate evaluated once per row (the OFFSET 0 fences keep the
    planner from inlining them into every aggregate that uses them); the aggregates count the
    failures and keep the first failing rows as samples."""
    fields: dict[str, sql.Composable] = {}
    for r in [*rules, *uniques]:
        name = r.params.get("field")
        if name is not None and name not in fields:
            fields[name] = sql.Identifier(f"c{len(fields)}")

    def column(name: str) -> sql.Composable:
        return fields[name]

    checks = [predicate(r.kind, r.parsed, column) for r in rules]
    extract = sql.SQL(", ").join([sql.SQL("key, geom")] + [
        sql.SQL("(data->>{}) AS {}").format(sql.Literal(f), c) for f, c in fields.items()])
    failing = sql.SQL(", ").join([sql.SQL("x.*")] + [
        sql.SQL("NOT coalesce({}, true) AS {}").format(c.passes, sql.Identifier(f"f{i}"))
        for i, c in enumerate(checks)])
    cols: list[sql.Composable] = [sql.SQL("count(*)")]
    for i, c in enumerate(checks):
        f = sql.Identifier(f"f{i}")
        cols.append(sql.SQL("count(*) FILTER (WHERE {})").format(f))
        cols.append(sql.SQL("(array_agg(json_build_array(key, {v}, {r})) FILTER (WHERE {f}))"
                            "[1:{n}]").format(v=c.value, r=c.reason, f=f,
                                              n=sql.Literal(SAMPLES)))
    for r in uniques:
        v = fields[r.params["field"]]
        present = sql.SQL("{v} IS NOT NULL AND btrim({v}) <> ''").format(v=v)
        cols.append(sql.SQL("count(*) FILTER (WHERE {})").format(present))
        cols.append(sql.SQL("count(*) FILTER (WHERE {p} AND key IS DISTINCT FROM {v})").format(
            p=present, v=v))
    cur.execute(sql.SQL(
        "SELECT {cols} FROM (SELECT {failing} FROM (SELECT {extract} FROM {rel} AS rel "
        "OFFSET 0) x OFFSET 0) y").format(cols=sql.SQL(", ").join(cols), failing=failing,
                                          extract=extract, rel=relation))
    row = cur.fetchone()
    total = int(row[0])
    out = []
    for i, rule in enumerate(rules):
        failed = int(row[1 + 2 * i])
        out.append(Outcome(rule, total, failed, _samples(row[2 + 2 * i]),
                           _message(rule, total, failed)))
    base = 1 + 2 * len(rules)
    keyed = {r.id: (int(row[base + 2 * i]), int(row[base + 2 * i + 1]))
             for i, r in enumerate(uniques)}
    return total, out, keyed


def check_digit_columns(cur: Cursor, relation: sql.Composable, rules: Sequence[RuleRow]
                        ) -> list[Outcome]:
    """Every check-digit column of the dataset in one stream (named cursor, in batches): the
    columns are transposed per batch and judged by backend.quality.digits (blank: unchecked)."""
    if not rules:
        return []
    params = [r.parsed for r in rules]
    columns = sql.SQL(", ").join(
        sql.SQL("coalesce(btrim({}), '')").format(field_text(p.field))  # type: ignore[attr-defined]
        for p in params)
    stream = cur.connection.cursor(name="quality_digits")
    stream.itersize = STREAM_BATCH
    stream.execute(sql.SQL("SELECT key, {} FROM {} AS rel").format(columns, relation))
    checked = [0] * len(rules)
    failed = [0] * len(rules)
    found: list[list[dict[str, Any]]] = [[] for _ in rules]
    while batch := stream.fetchmany(STREAM_BATCH):
        keys, *cols = zip(*batch, strict=True)
        for i, p in enumerate(params):
            values = cols[i]
            checked[i] += len(values) - values.count("")
            bad = digits.failures(values, p.scheme, p.check_region)  # type: ignore[attr-defined]
            failed[i] += len(bad)
            for j, reason in bad[:max(0, SAMPLES - len(found[i]))]:
                found[i].append(sample(keys[j], values[j], reason))
    stream.close()
    return [Outcome(r, checked[i], failed[i], found[i], _message(r, checked[i], failed[i]))
            for i, r in enumerate(rules)]


def unique_from_keys(rule: RuleRow, present: int, unkeyed: int) -> Outcome | None:
    """When every present value is its row's store key, the values are unique: store keys are
    (one live row per key in a version, the stage's unique index, a layer's primary key).
    None: some row is keyed otherwise, group the values (`unique`)."""
    return Outcome(rule, present, 0, [], _message(rule, present, 0)) if unkeyed == 0 else None


def unique(cur: Cursor, relation: sql.Composable, rule: RuleRow) -> Outcome:
    v = field_text(rule.params["field"])
    cur.execute(sql.SQL(
        "SELECT coalesce(sum(n), 0), coalesce(sum(n - 1) FILTER (WHERE n > 1), 0), "
        "(array_agg(json_build_array(k, v, n) ORDER BY n DESC) FILTER (WHERE n > 1))[1:{s}] "
        "FROM (SELECT {v} AS v, count(*) AS n, min(key) AS k FROM {rel} AS rel "
        "WHERE {v} IS NOT NULL AND btrim({v}) <> '' GROUP BY 1) g"
    ).format(v=v, rel=relation, s=sql.Literal(SAMPLES)))
    checked, failed, raw = cur.fetchone()
    samples = [sample(k, val, f"重复 {n} 次") for k, val, n in (raw or [])]
    return Outcome(rule, int(checked), int(failed), samples,
                   _message(rule, int(checked), int(failed)))


def joins(cur: Cursor, relation: sql.Composable, rules: Sequence[RuleRow],
          resolve: Resolver) -> list[Outcome]:
    """Reference and authority rules, one join per (linking field, linked dataset)."""
    groups: dict[tuple[str, str], list[RuleRow]] = defaultdict(list)
    for r in rules:
        if r.kind == "reference":
            groups[(r.params["field"], r.params["dataset"])].append(r)
        else:
            groups[(r.params["via"], r.params["source"].split(".", 1)[0])].append(r)
    out = []
    for (via, target), members in groups.items():
        other = resolve(target)
        if other is None:
            out += [Outcome(r, 0, 0, [], f"{KINDS[r.kind].name}：{target} 尚无数据，未检查")
                    for r in members]
            continue
        out += _join(cur, relation, via, target, other, members)
    return out


def _join(cur: Cursor, relation: sql.Composable, via: str, target: str,
          other: sql.Composable, members: Sequence[RuleRow]) -> list[Outcome]:
    """One hash join of the relation's linking field with the linked dataset's keys; each
    side extracts the fields it needs once, in a fenced subquery."""
    lit, ident = sql.Literal, sql.Identifier
    mine_cols = {via: ident("l")}
    theirs_cols: dict[str, sql.Composable] = {}
    for r in members:
        if r.kind == "authority":
            mine_cols.setdefault(r.params["field"], ident(f"m{len(mine_cols)}"))
            src = r.params["source"].split(".", 1)[1]
            theirs_cols.setdefault(src, ident(f"t{len(theirs_cols)}"))
    link = ident("l")
    has_link = sql.SQL("(l IS NOT NULL AND l <> '')")
    cols: list[sql.Composable] = []
    for r in members:
        if r.kind == "reference":
            bad = sql.SQL("{h} AND s.key IS NULL").format(h=has_link)
            cols += [sql.SQL("count(*) FILTER (WHERE {})").format(has_link),
                     sql.SQL("count(*) FILTER (WHERE {})").format(bad),
                     sql.SQL("(array_agg(json_build_array(d.key, {l}, null)) FILTER (WHERE {b}))"
                             "[1:{n}]").format(l=link, b=bad, n=lit(SAMPLES))]
        else:
            mine = mine_cols[r.params["field"]]
            theirs = sql.SQL("s.{}").format(theirs_cols[r.params["source"].split(".", 1)[1]])
            both = sql.SQL("s.key IS NOT NULL AND {m} IS NOT NULL AND {m} <> ''").format(m=mine)
            bad = sql.SQL("{b} AND {m} IS DISTINCT FROM {t}").format(b=both, m=mine, t=theirs)
            cols += [sql.SQL("count(*) FILTER (WHERE {})").format(both),
                     sql.SQL("count(*) FILTER (WHERE {})").format(bad),
                     sql.SQL("(array_agg(json_build_array(d.key, {m}, {t})) FILTER (WHERE {b}))"
                             "[1:{n}]").format(m=mine, t=theirs, b=bad, n=lit(SAMPLES))]
    mine_sql = sql.SQL(", ").join([sql.SQL("key")] + [
        sql.SQL("btrim(data->>{}) AS {}").format(lit(f), c) for f, c in mine_cols.items()])
    theirs_sql = sql.SQL(", ").join([sql.SQL("key")] + [
        sql.SQL("btrim(data->>{}) AS {}").format(lit(f), c) for f, c in theirs_cols.items()])
    # The linked dataset materialised: a hash join on its keys, not an index probe per row.
    cur.execute(sql.SQL(
        "WITH s AS MATERIALIZED (SELECT {theirs} FROM {other} AS o) "
        "SELECT {cols} FROM (SELECT {mine} FROM {rel} AS rel OFFSET 0) d "
        "LEFT JOIN s ON s.key = d.l").format(theirs=theirs_sql, other=other,
                                            cols=sql.SQL(", ").join(cols), mine=mine_sql,
                                            rel=relation))
    row = cur.fetchone()
    out = []
    for i, r in enumerate(members):
        checked, failed, raw = int(row[3 * i]), int(row[3 * i + 1]), row[3 * i + 2] or []
        if r.kind == "reference":
            samples = [sample(k, v, f"{target} 中没有这个键") for k, v, _ in raw]
            message = _message(r, checked, failed)
        else:
            source = r.params["source"]
            samples = [sample(k, v, f"与权威来源 {source} 不一致", source_value=t)
                       for k, v, t in raw]
            message = _message(r, checked, failed) + (
                f"（冲突已列出，请提供方以 {source} 为准核对）" if failed else "")
        out.append(Outcome(r, checked, failed, samples, message))
    return out
