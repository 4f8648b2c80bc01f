"""Geometry rules that need more than one row: overlaps and gaps of a coverage (parcels, grid
cells) and the GCJ-02 plausibility of points and line vertices against the reference roads."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from backend.geo.gcj02 import gcj02_to_wgs84
from backend.quality.checks import SAMPLES, Outcome, RuleRow, sample

COVER = "quality_coverage"


def coverage(cur: Cursor, relation: sql.Composable, rules: Sequence[RuleRow]) -> list[Outcome]:
    """no_overlaps and no_gaps over the valid polygons of the relation, materialised once with
    a GiST index (the overlaps are a self-join on it)."""
    if not rules:
        return []
    table = sql.Identifier(COVER)
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    cur.execute(sql.SQL(
        "CREATE TEMP TABLE {t} ON COMMIT DROP AS SELECT key, geom FROM {rel} AS rel "
        "WHERE geom IS NOT NULL AND ST_SRID(geom) = 4326 AND NOT ST_IsEmpty(geom) "
        "AND GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON') AND ST_IsValid(geom)"
    ).format(t=table, rel=relation))
    cur.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(table))
    cur.execute(sql.SQL("ANALYZE {}").format(table))
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table))
    total = int(cur.fetchone()[0])
    out = []
    for rule in rules:
        if rule.kind == "no_overlaps":
            out.append(_overlaps(cur, table, rule, total))
        else:
            out.append(_gaps(cur, table, rule, total))
    cur.execute(sql.SQL("DROP TABLE {}").format(table))
    return out


def _overlaps(cur: Cursor, table: sql.Composable, rule: RuleRow, total: int) -> Outcome:
    cur.execute(sql.SQL(
        "SELECT a.key, b.key, ST_Area(ST_Intersection(a.geom, b.geom)::geography) AS area "
        "FROM {t} a JOIN {t} b ON a.key < b.key AND a.geom && b.geom "
        "AND ST_Relate(a.geom, b.geom, '2********')"
    ).format(t=table))
    pairs = [(a, b, area) for a, b, area in cur.fetchall()
             if area >= rule.parsed.min_area_m2]  # type: ignore[attr-defined]
    involved = {k for a, b, _ in pairs for k in (a, b)}
    pairs.sort(key=lambda p: -p[2])
    samples = [sample(a, b, f"与 {b} 重叠 {area:.1f} ㎡") for a, b, area in pairs[:SAMPLES]]
    message = (f"无重叠：{total} 个面中 {len(involved)} 个相互重叠（{len(pairs)} 对）"
               if pairs else f"无重叠：{total} 个面无重叠")
    return Outcome(rule, total, len(involved), samples, message)


def _gaps(cur: Cursor, table: sql.Composable, rule: RuleRow, total: int) -> Outcome:
    """Holes of the union smaller than max_area_m2 (larger holes are lakes, towns...)."""
    cur.execute(sql.SQL(
        "WITH u AS (SELECT (ST_Dump(ST_Union(geom))).geom AS g FROM {t}), "
        "r AS (SELECT (ST_DumpRings(g)).* FROM u) "
        "SELECT ST_Area(geom::geography) AS area, ST_AsText(ST_PointOnSurface(geom)) "
        "FROM r WHERE path[1] > 0"
    ).format(t=table))
    limit = rule.parsed.max_area_m2  # type: ignore[attr-defined]
    gaps = sorted(((a, p) for a, p in cur.fetchall() if a < limit),
                  key=lambda g: -g[0])
    samples = [sample(None, p, f"缝隙 {a:.1f} ㎡") for a, p in gaps[:SAMPLES]]
    message = (f"无缝隙：{len(gaps)} 处缝隙（小于 {limit:g} ㎡ 的孔洞）"
               if gaps else "无缝隙：未发现缝隙")
    return Outcome(rule, total, len(gaps), samples, message)


_NEAREST = """
SELECT (SELECT ST_Distance(r.geom::geography, p.g::geography) FROM roads r
        ORDER BY r.geom <-> p.g LIMIT 1)
FROM (SELECT ST_SetSRID(ST_MakePoint(x, y), 4326) AS g, i
      FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS t (x, y, i)) p ORDER BY p.i
"""


def gcj02(cur: Cursor, relation: sql.Composable, rule: RuleRow) -> Outcome:
    """Median distance to the nearest reference road of a sample of points (line vertices) as
    given and after gcj02_to_wgs84: consistently closer after un-shifting -> probably GCJ-02
    coordinates that were never converted."""
    p = rule.parsed
    n = int(p.sample)  # type: ignore[attr-defined]
    cur.execute(sql.SQL(
        "SELECT key, ST_X(p), ST_Y(p) FROM (SELECT key, (ST_DumpPoints(geom)).geom AS p "
        "FROM (SELECT key, geom FROM {rel} AS rel WHERE geom IS NOT NULL "
        "AND ST_SRID(geom) = 4326 AND NOT ST_IsEmpty(geom) AND GeometryType(geom) IN "
        "('POINT', 'MULTIPOINT', 'LINESTRING', 'MULTILINESTRING') ORDER BY md5(key) "
        "LIMIT {n}) f) v LIMIT {m}").format(rel=relation, n=sql.Literal(n),
                                            m=sql.Literal(n * 3)))
    rows = cur.fetchall()
    cur.execute("SELECT EXISTS (SELECT 1 FROM roads)")
    if not rows or not cur.fetchone()[0]:
        return Outcome(rule, 0, 0, [], "GCJ-02 检查：无点位或无参考道路，未检查")
    keys = [r[0] for r in rows]
    xs, ys = [float(r[1]) for r in rows], [float(r[2]) for r in rows]
    ux, uy = gcj02_to_wgs84(xs, ys)
    cur.execute(_NEAREST, (xs, ys))
    given = [float(r[0]) for r in cur.fetchall()]
    cur.execute(_NEAREST, ([float(v) for v in ux], [float(v) for v in uy]))
    unshifted = [float(r[0]) for r in cur.fetchall()]
    med_given, med_un = statistics.median(given), statistics.median(unshifted)
    closer = [i for i in range(len(rows)) if unshifted[i] < given[i]]
    flagged = (len(closer) >= p.share * len(rows)  # type: ignore[attr-defined]
               and med_un < p.ratio * med_given  # type: ignore[attr-defined]
               and med_given - med_un >= p.min_gain_m)  # type: ignore[attr-defined]
    if not flagged:
        return Outcome(rule, len(rows), 0, [],
                       f"GCJ-02 检查：未见偏移（距最近道路中位数 原值 {med_given:.0f} 米，"
                       f"反偏移后 {med_un:.0f} 米）")
    samples = [sample(keys[i], f"{xs[i]:.6f},{ys[i]:.6f}",
                      f"反偏移后距道路 {unshifted[i]:.0f} 米（原 {given[i]:.0f} 米）")
               for i in closer[:SAMPLES]]
    return Outcome(rule, len(rows), len(closer), samples,
                   f"疑似 GCJ-02 坐标未转换：距最近道路中位数 原值 {med_given:.0f} 米，"
                   f"反偏移后 {med_un:.0f} 米（{len(closer)}/{len(rows)} 个点更近）")
