"""Load a source dataset's current version (the version store, backend/datasets/store.py) into
the population base, in the caller's one transaction (a kill mid-load leaves the previous
state; nothing half-loaded).

The rows are read in the database (jsonb -> a temporary table, the fields mapped by
population_sources.yaml); only the citizen ID, sex and birth-date columns come to Python for
the ID checks (backend.people.idcheck: numpy, stdnum judging every refusal); refused rows go
back by COPY and to `population_quarantine` for the dataset's department, with the check and
the reason. Everything else is set-based SQL: addresses on the buildings (and so in the grid
cell holding each building), households by 户号, persons upserted by citizen ID. A person whose
values changed gets version + 1 and a `person_versions` row; an unchanged one writes nothing;
a new one gets version 1 and its first `person_versions` row. A second load of the same
version changes nothing (the quarantine rows of a version are written once too).

With `stats_k`, the published counts are recounted in the same transaction
(backend.people.aggregates.refresh); then the load is appended to the audit chain, last: the
chain's lock is held until the caller commits."""

from __future__ import annotations

import io
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from backend.audit.chain import append_with_cursor
from backend.catalog.population_sources import PopulationSource, source_of
from backend.errors import Conflict, NotFound
from backend.ingest.values import copy_escape
from backend.people.aggregates import refresh
from backend.people.idcheck import check_ids
from backend.people.models import CURRENT_STATUSES, RELATIONS

TEXT_COLUMNS = ("citizen_id", "name", "sex", "birth_date", "ethnicity", "phone",
                "registered_region", "registered_address", "household_no", "household_kind",
                "relation", "building_id", "building_label", "unit")
# The columns compared to tell a changed person from an unchanged one.
COMPARED = ("name", "sex", "birth_date", "ethnicity", "phone", "registered_region",
            "registered_address", "address_id", "household_id", "relation", "status",
            "grid_code", "township_code")


@dataclass
class LoadReport:
    dataset_id: str
    version_id: int
    rows: int = 0
    loaded: int = 0          # new persons
    changed: int = 0         # persons with a new version
    unchanged: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)   # by check, this version
    seconds: float = 0.0

    def line(self) -> str:
        bad = sum(self.quarantined.values())
        by = ", ".join(f"{k} {v}" for k, v in sorted(self.quarantined.items())) or "none"
        return (f"{self.dataset_id} v{self.version_id}: {self.rows:,} rows, {self.loaded:,} new, "
                f"{self.changed:,} changed, {self.unchanged:,} unchanged, {bad:,} quarantined "
                f"({by}) in {self.seconds:.1f} s")


def load_dataset(conn: sa.Connection, dataset_id: str, *, actor: str = "system",
                 source: PopulationSource | None = None, stats_k: int | None = None
                 ) -> LoadReport:
    """Load `dataset_id`'s current version (`source`: its field mapping; default: the one of
    population_sources.yaml). Commit the caller's transaction to keep it. `stats_k`: recount
    the published counts with this threshold (settings.population_k) in the same transaction."""
    started = time.perf_counter()
    spec = source or source_of(dataset_id)
    if spec is None:
        raise NotFound(f"{dataset_id} is not a population source (population_sources.yaml)")
    cur: Cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cur.execute("SELECT d.department_code, d.current_version_id, v.seq FROM datasets d "
                "LEFT JOIN dataset_versions v ON v.id = d.current_version_id WHERE d.id = %s",
                (dataset_id,))
    found = cur.fetchone()
    if found is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    department, version_id, seq = found
    if version_id is None:
        raise Conflict(f"dataset {dataset_id} has no current version to load")
    report = LoadReport(dataset_id, version_id)
    report.rows = _stage(cur, dataset_id, seq, spec)
    _refuse(cur, _checked(cur), dataset_id)
    new_bad = _quarantine(cur, dataset_id, version_id, seq, department)
    cur.execute("SELECT check_failed, count(*) FROM population_quarantine WHERE dataset_id = %s "
                "AND version_id = %s GROUP BY 1", (dataset_id, version_id))
    report.quarantined = dict(cur.fetchall())
    report.loaded, report.changed = _upsert(cur, dataset_id, version_id, actor)
    cur.execute("SELECT count(*) FROM pop_good")
    report.unchanged = cur.fetchone()[0] - report.loaded - report.changed
    if stats_k is not None:
        refresh(conn, stats_k)
    # ON COMMIT DROP alone would keep them for a second load in the same transaction
    cur.execute("DROP TABLE IF EXISTS pop_src, pop_bad, pop_building, pop_good, pop_addr, "
                "pop_new, pop_diff")
    report.seconds = round(time.perf_counter() - started, 2)
    append_with_cursor(cur, actor, "people.load", "dataset", dataset_id, {
        "version_id": version_id, "rows": report.rows, "loaded": report.loaded,
        "changed": report.changed, "unchanged": report.unchanged,
        "quarantined": report.quarantined, "quarantined_new": new_bad})
    return report


# -- staging and checks -------------------------------------------------------------------------

def _stage(cur: Cursor, dataset_id: str, seq: int, spec: PopulationSource) -> int:
    """pop_src: one row per row of the version, the mapped fields as text, the status mapped
    (not the row's jsonb: the quarantine reads the few refused rows' data from the store)."""
    cols = []
    for name in TEXT_COLUMNS:
        if name in spec.fields:
            value = sql.SQL("nullif(btrim(data->>{}), '')").format(sql.Literal(spec.fields[name]))
            if name == "citizen_id":  # the form stored and compared (idcheck.normalize)
                value = sql.SQL("upper({})").format(value)
        else:
            value = sql.Literal(spec.fixed.get(name))
        cols.append(value + sql.SQL("::text AS {}").format(sql.Identifier(name)))
    if spec.status.fixed is not None:
        status = sql.Literal(spec.status.fixed)
        raw = sql.Literal(spec.status.fixed)
    else:
        raw = sql.SQL("data->>{}").format(sql.Literal(spec.status.field))
        status = sql.SQL("{}::jsonb ->> ({})").format(
            sql.Literal(_json(spec.status.map)), raw)
    cur.execute(sql.SQL(
        "CREATE TEMP TABLE pop_src ON COMMIT DROP AS SELECT key AS row_key, {cols}, "
        "{status}::text AS status, {raw}::text AS status_raw FROM dataset_rows "
        "WHERE dataset_id = %(dataset)s AND first_seq <= %(seq)s "
        "AND (last_seq IS NULL OR last_seq > %(seq)s)").format(
        cols=sql.SQL(", ").join(cols), status=status, raw=raw), {"dataset": dataset_id, "seq": seq})
    n = cur.rowcount
    cur.execute("CREATE UNIQUE INDEX ON pop_src (row_key)")
    cur.execute("ANALYZE pop_src")
    cur.execute("CREATE TEMP TABLE pop_bad (row_key text PRIMARY KEY, check_failed text, "
                "reason text) ON COMMIT DROP")
    return n


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _checked(cur: Cursor) -> list[tuple[str, str, str]]:
    """(row_key, check, reason) of the rows refused by the checks made in Python: required
    fields, the ID checks, the birth-date field against the ID's."""
    buf = io.StringIO()
    cur.copy_expert("COPY (SELECT row_key, citizen_id, name, sex, birth_date, status, "
                    "status_raw FROM pop_src) TO STDOUT", buf)
    rows = [line.split("\t") for line in buf.getvalue().splitlines()]
    refused: list[tuple[str, str, str]] = []
    keys, ids, sexes = [], [], []
    for key, cid, name, sex, born, status, status_raw in rows:
        absent = [n for n, v in (("公民身份号码", cid), ("姓名", name), ("性别", sex),
                                 ("出生日期", born)) if v == "\\N"]
        if absent:
            refused.append((key, "missing", f"缺少必填项：{'、'.join(absent)}"))
        elif status == "\\N":
            shown = "（空）" if status_raw == "\\N" else status_raw
            refused.append((key, "missing", f"人口状态 {shown} 无法识别"))
        else:
            keys.append(key)
            ids.append(cid)
            sexes.append(sex)
    bad = {i: p for i, p in check_ids(ids, sexes)}
    for i, key in enumerate(keys):
        if i in bad:
            refused.append((key, bad[i].check, bad[i].reason))
    born_of = {r[0]: r[4] for r in rows}
    for i, (key, cid) in enumerate(zip(keys, ids, strict=True)):
        if i not in bad and born_of[key] != f"{cid[6:10]}-{cid[10:12]}-{cid[12:14]}":
            refused.append((key, "birth_date", f"出生日期 {born_of[key]} 与公民身份号码中的 "
                                               f"{cid[6:10]}-{cid[10:12]}-{cid[12:14]} 不符"))
    return refused


def _refuse(cur: Cursor, refused: list[tuple[str, str, str]], dataset_id: str) -> None:
    """pop_bad: the Python refusals, then the set-based ones (residence, duplicates)."""
    buf = io.StringIO("".join(f"{copy_escape(k)}\t{c}\t{copy_escape(r)}\n"
                              for k, c, r in refused))
    cur.copy_expert("COPY pop_bad (row_key, check_failed, reason) FROM STDIN", buf)
    # The residence: the building (and the grid cell holding it) of each current person.
    cur.execute("""
CREATE TEMP TABLE pop_building ON COMMIT DROP AS
SELECT b.id AS building_id, pt AS geom, g.grid_code, g.township_code, g.community
FROM (SELECT DISTINCT building_id::bigint AS id FROM pop_src
      WHERE building_id ~ '^[0-9]{1,18}$') x
JOIN buildings b ON b.id = x.id
CROSS JOIN LATERAL ST_PointOnSurface(b.geom) pt
JOIN LATERAL (SELECT c.grid_code, c.township_code, c.community FROM grid_cells c
              WHERE ST_Intersects(c.geom, pt) ORDER BY c.grid_code LIMIT 1) g ON true""")
    cur.execute("CREATE UNIQUE INDEX ON pop_building (building_id)")
    cur.execute("""
INSERT INTO pop_bad (row_key, check_failed, reason)
SELECT s.row_key, 'missing', '现居住地（建筑物编码 ' || coalesce(s.building_id, '空') ||
       '）不是县内网格中的建筑'
FROM pop_src s LEFT JOIN pop_building b ON s.building_id ~ '^[0-9]{1,18}$'
  AND b.building_id = s.building_id::bigint
WHERE s.status = ANY(%s) AND b.building_id IS NULL
ON CONFLICT (row_key) DO NOTHING""", (list(CURRENT_STATUSES),))
    # One person per citizen ID: in the version, the row keyed by the ID itself (else the first
    # key) stays; across datasets, the one already in the base stays.
    cur.execute("""
INSERT INTO pop_bad (row_key, check_failed, reason)
SELECT row_key, 'duplicate', '公民身份号码与本版本中的行 ' || first_key || ' 重复'
FROM (SELECT s.row_key, first_value(s.row_key) OVER w AS first_key, row_number() OVER w AS n
      FROM pop_src s WHERE NOT EXISTS (SELECT 1 FROM pop_bad b WHERE b.row_key = s.row_key)
      WINDOW w AS (PARTITION BY s.citizen_id ORDER BY s.row_key = s.citizen_id DESC, s.row_key)
     ) d WHERE n > 1""")
    cur.execute("""
INSERT INTO pop_bad (row_key, check_failed, reason)
SELECT s.row_key, 'duplicate', '公民身份号码已由数据集 ' || p.source_dataset || ' 载入人口库'
FROM pop_src s JOIN persons p ON p.citizen_id = s.citizen_id AND p.source_dataset <> %s
WHERE NOT EXISTS (SELECT 1 FROM pop_bad b WHERE b.row_key = s.row_key)""", (dataset_id,))


def _quarantine(cur: Cursor, dataset_id: str, version_id: int, seq: int,
                department: str) -> int:
    cur.execute("""
INSERT INTO population_quarantine (dataset_id, version_id, department_code, row_key, citizen_id,
  check_failed, reason, data)
SELECT %(d)s, %(v)s, %(dep)s, b.row_key, s.citizen_id, b.check_failed, b.reason, r.data
FROM pop_bad b JOIN pop_src s USING (row_key)
JOIN dataset_rows r ON r.dataset_id = %(d)s AND r.key = b.row_key AND r.first_seq <= %(seq)s
  AND (r.last_seq IS NULL OR r.last_seq > %(seq)s)
WHERE NOT EXISTS (SELECT 1 FROM population_quarantine q WHERE q.dataset_id = %(d)s
                  AND q.version_id = %(v)s AND q.row_key = b.row_key)""",
                {"d": dataset_id, "v": version_id, "seq": seq, "dep": department})
    return cur.rowcount


# -- the base -----------------------------------------------------------------------------------

def _upsert(cur: Cursor, dataset_id: str, version_id: int, actor: str) -> tuple[int, int]:
    """Addresses, households and persons from the rows that passed: (new, changed) persons."""
    cur.execute("""
CREATE TEMP TABLE pop_good ON COMMIT DROP AS
SELECT s.*, b.geom, b.grid_code, b.township_code, b.community
FROM pop_src s LEFT JOIN pop_building b ON s.building_id ~ '^[0-9]{1,18}$'
  AND b.building_id = s.building_id::bigint
WHERE NOT EXISTS (SELECT 1 FROM pop_bad x WHERE x.row_key = s.row_key)""")
    cur.execute("ANALYZE pop_good")
    cur.execute("""
INSERT INTO addresses (building_id, grid_code, township_code, community, building_label, unit,
  geom)
SELECT DISTINCT ON (g.building_id::bigint, label, g.unit) g.building_id::bigint, g.grid_code,
  g.township_code, g.community, label, g.unit, g.geom
FROM pop_good g CROSS JOIN LATERAL coalesce(g.building_label, '建筑物' || g.building_id) label
WHERE g.grid_code IS NOT NULL AND NOT EXISTS (
  SELECT 1 FROM addresses a WHERE a.building_id = g.building_id::bigint
  AND a.building_label = label AND a.unit IS NOT DISTINCT FROM g.unit)""")
    cur.execute("""
CREATE TEMP TABLE pop_addr ON COMMIT DROP AS
SELECT g.row_key, a.id AS address_id FROM pop_good g
JOIN addresses a ON g.grid_code IS NOT NULL AND a.building_id = g.building_id::bigint
  AND a.building_label = coalesce(g.building_label, '建筑物' || g.building_id)
  AND a.unit IS NOT DISTINCT FROM g.unit""")
    cur.execute("CREATE UNIQUE INDEX ON pop_addr (row_key)")
    cur.execute("""
INSERT INTO households AS h (household_no, kind, address_id, grid_code, township_code)
SELECT DISTINCT ON (g.household_no) g.household_no,
  CASE WHEN g.household_kind = '集体户' THEN 'collective' ELSE 'family' END,
  a.address_id, g.grid_code, g.township_code
FROM pop_good g LEFT JOIN pop_addr a USING (row_key) WHERE g.household_no IS NOT NULL
ORDER BY g.household_no, (g.relation = '户主') DESC NULLS LAST, a.address_id NULLS LAST
ON CONFLICT (household_no) DO UPDATE SET kind = excluded.kind, address_id = excluded.address_id,
  grid_code = excluded.grid_code, township_code = excluded.township_code
WHERE (h.kind, h.address_id, h.grid_code, h.township_code) IS DISTINCT FROM
  (excluded.kind, excluded.address_id, excluded.grid_code, excluded.township_code)""")
    # Moved persons live elsewhere: no residence, no cell; the others live at their address.
    cur.execute("""
CREATE TEMP TABLE pop_new ON COMMIT DROP AS
SELECT g.citizen_id, g.name, g.sex, to_date(substr(g.citizen_id, 7, 8), 'YYYYMMDD') AS birth_date,
  g.ethnicity, g.phone, g.registered_region, g.registered_address,
  CASE WHEN g.status <> 'moved' THEN a.address_id END AS address_id, h.id AS household_id,
  CASE WHEN g.relation = ANY(%(rel)s) THEN g.relation WHEN g.relation IS NOT NULL THEN '其他'
  END AS relation, g.status,
  CASE WHEN g.status <> 'moved' AND a.address_id IS NOT NULL THEN g.grid_code END AS grid_code,
  CASE WHEN g.status <> 'moved' AND a.address_id IS NOT NULL THEN g.township_code END
    AS township_code
FROM pop_good g LEFT JOIN pop_addr a USING (row_key)
LEFT JOIN households h ON h.household_no = g.household_no""", {"rel": list(RELATIONS)})
    cols = sql.SQL(", ").join(map(sql.Identifier, COMPARED))
    cur.execute(sql.SQL("""
CREATE TEMP TABLE pop_diff ON COMMIT DROP AS
SELECT n.*, p.id AS person_id FROM pop_new n LEFT JOIN persons p USING (citizen_id)
WHERE p.id IS NULL OR ({p}) IS DISTINCT FROM ({n})""").format(
        p=sql.SQL(", ").join(sql.SQL("p.") + sql.Identifier(c) for c in COMPARED),
        n=sql.SQL(", ").join(sql.SQL("n.") + sql.Identifier(c) for c in COMPARED)))
    params = {"d": dataset_id, "v": version_id, "actor": actor}
    # Each written person's version row from the row written (RETURNING), in the same
    # statement: no second pass over persons. New persons go in (cell, household) order, the
    # order of most of persons' indexes and of the households their FK checks look up.
    versions = sql.SQL("""
INSERT INTO person_versions (person_id, version, data, source_dataset, source_version, made_by)
SELECT w.id, w.version, to_jsonb(w) - 'id', %(d)s, %(v)s, %(actor)s FROM w""")
    cur.execute(sql.SQL("""
WITH w AS (INSERT INTO persons (citizen_id, {cols}, source_dataset, source_version, version)
  SELECT citizen_id, {cols}, %(d)s, %(v)s, 1 FROM pop_diff WHERE person_id IS NULL
  ORDER BY grid_code, household_id RETURNING *)
""").format(cols=cols) + versions, params)
    new = cur.rowcount
    cur.execute(sql.SQL("""
WITH w AS (UPDATE persons p SET ({cols}) = ({vals}), source_dataset = %(d)s,
  source_version = %(v)s, version = p.version + 1, updated_at = now()
  FROM pop_diff d WHERE d.person_id = p.id RETURNING p.*)
""").format(cols=cols, vals=sql.SQL(", ").join(sql.SQL("d.") + sql.Identifier(c)
                                               for c in COMPARED)) + versions, params)
    changed = cur.rowcount
    cur.execute("""
UPDATE households h SET head_person_id = p.id
FROM persons p JOIN pop_diff d USING (citizen_id)
WHERE p.relation = '户主' AND p.household_id = h.id AND h.head_person_id IS DISTINCT FROM p.id""")
    return new, changed


def quarantine_counts(conn: sa.Connection, dataset_id: str | None = None) -> Counter[str]:
    """Unresolved refusals by check (one dataset or all)."""
    rows = conn.execute(sa.text(
        "SELECT check_failed, count(*) FROM population_quarantine WHERE resolved_at IS NULL "
        "AND (CAST(:d AS text) IS NULL OR dataset_id = :d) GROUP BY 1"), {"d": dataset_id})
    return Counter({check: n for check, n in rows})
