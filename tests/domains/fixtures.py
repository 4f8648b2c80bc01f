"""Small hand-made versions of two domain datasets, written through the version store, and a
test view over them: the tests compute every expected figure from these rows by hand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.catalog.dataset_content import load_content
from backend.catalog.domain_views import ViewSpec
from backend.catalog.strict import Title, parse_yaml
from backend.datasets.store import Row, write_version
from backend.domains.views import DomainView, build_view

TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Places:
    t1: str                      # a township code
    t2: str                      # another
    grid: str                    # a grid cell of t1 holding spot A
    a: tuple[float, float]       # spot A: in the grid cell
    b: tuple[float, float]       # spot B: elsewhere in t1
    c: tuple[float, float]       # spot C: in t2


def places(engine: sa.Engine) -> Places:
    with engine.connect() as conn:
        cell = conn.execute(sa.text(
            "SELECT g.grid_code, g.township_code, ST_X(p), ST_Y(p) FROM grid_cells g, "
            "LATERAL ST_PointOnSurface(g.geom) p ORDER BY g.grid_code LIMIT 1")).one()
        t1 = cell[1]
        b = conn.execute(sa.text(
            "SELECT ST_X(p), ST_Y(p) FROM townships t, LATERAL ST_PointOnSurface(t.geom) p "
            "WHERE t.code = :c AND NOT EXISTS (SELECT 1 FROM grid_cells g WHERE g.grid_code = "
            ":g AND ST_Intersects(g.geom, p))"), {"c": t1, "g": cell[0]}).one()
        other = conn.execute(sa.text(
            "SELECT t.code, ST_X(p), ST_Y(p) FROM townships t, "
            "LATERAL ST_PointOnSurface(t.geom) p WHERE t.code <> :c ORDER BY t.code LIMIT 1"),
            {"c": t1}).one()
    return Places(t1, other[0], cell[0], (cell[2], cell[3]), (b[0], b[1]),
                  (other[1], other[2]))


def point_hex(conn: sa.Connection, lon: float, lat: float) -> str:
    return conn.execute(sa.text("SELECT encode(ST_AsEWKB(ST_SetSRID(ST_MakePoint(:x, :y), "
                                "4326)), 'hex')"), {"x": lon, "y": lat}).scalar_one()


def spots(conn: sa.Connection, p: Places) -> list[Row]:
    rows = [("A", "运河遗址", "景区", "AAAA", p.t1, 1000, p.a),
            ("B", "石龙湖", "景区", "AAA", p.t1, 500, p.b),
            ("C", "博物馆", "博物馆", None, p.t2, 2000, p.c)]
    return [Row(k, {"spot_id": k, "name": n, "kind": kind, "grade": g, "township_code": t,
                    "capacity": cap}, point_hex(conn, *xy))
            for k, n, kind, g, t, cap, xy in rows]


def hours_back(now: datetime, n: int) -> list[datetime]:
    top = now.astimezone(TZ).replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=k) for k in range(n)]


def flow(p: Places, now: datetime) -> list[Row]:
    """Visitors at spots A (t1) and C (t2) over the last 30 hours: A 10 an hour, C 100 an
    hour; in_park A 400, C 1500 at every hour."""
    out = []
    for h in hours_back(now, 30):
        for spot, town, visitors, in_park in (("A", p.t1, 10, 400), ("C", p.t2, 100, 1500)):
            key = f"{spot}{h:%Y%m%d%H}"
            out.append(Row(key, {"record_id": key, "spot_id": spot, "township_code": town,
                                 "hour": h.isoformat(), "visitors": visitors,
                                 "in_park": in_park}))
    return out


@contextmanager
def written(engine: sa.Engine, versions: dict[str, list[Row]]) -> Iterator[None]:
    """The datasets' current versions are these rows; empty again afterwards."""
    with engine.begin() as conn:
        for ds, rows in versions.items():
            write_version(conn, dataset_id=ds, rows=rows, arrival="generator", actor="test")
    try:
        yield
    finally:
        with engine.begin() as conn:
            for ds in versions:
                write_version(conn, dataset_id=ds, rows=[], arrival="generator", actor="test")


TEST_VIEW = """
id: culture_tourism
department: WLJ
datasets: [scenic_spots, visitor_flow]
filters: [extent, polygon, township, grid]
kpis:
  - id: spots
    title: {zh: 景区, en: Spots}
    unit: {zh: 个, en: spots}
    sql: SELECT count(*) AS value FROM scenic_spots
  - id: capacity
    title: {zh: 承载量, en: Capacity}
    unit: {zh: 人, en: people}
    sql: SELECT sum(capacity) AS value FROM scenic_spots
    reference: {kind: target, label: {zh: 目标, en: Target}, value: 3000}
    better: up
    thresholds: {warn: 2000, alarm: 1000}
  - id: visitors_today
    title: {zh: 今日入园, en: Visitors today}
    unit: {zh: 人次, en: visits}
    sql: >-
      SELECT sum(visitors) AS value, max(hour) + interval '1 hour' AS as_of
      FROM visitor_flow WHERE hour >= date_trunc('day', now())
    reference: {kind: county, label: {zh: 全县, en: County}}
  - id: visitors_day
    title: {zh: 近24小时, en: Last 24 hours}
    unit: {zh: 人次, en: visits}
    sql: SELECT sum(visitors) AS value FROM visitor_flow WHERE hour > now() - interval '24 hours'
    reference:
      kind: previous
      label: {zh: 前24小时, en: The 24 hours before}
      sql: >-
        SELECT sum(visitors) AS value FROM visitor_flow
        WHERE hour > now() - interval '48 hours' AND hour <= now() - interval '24 hours'
    better: up
  - id: broken
    title: {zh: 坏, en: Broken}
    unit: {zh: 个, en: n}
    sql: SELECT count(*) / 0 AS value FROM scenic_spots
  - id: slow
    title: {zh: 慢, en: Slow}
    unit: {zh: 个, en: n}
    sql: SELECT count(*) AS value FROM scenic_spots, pg_sleep(1)
  - id: old
    title: {zh: 旧, en: Old}
    unit: {zh: 个, en: n}
    sql: SELECT count(*) AS value, now() - interval '3 hours' AS as_of FROM scenic_spots
    stale_after: 2h
  - id: recent
    title: {zh: 新, en: Recent}
    unit: {zh: 个, en: n}
    sql: SELECT count(*) AS value, now() - interval '3 hours' AS as_of FROM scenic_spots
    stale_after: 4h
charts:
  - id: by_kind
    type: pie
    title: {zh: 类型, en: Kinds}
    sql: SELECT kind AS label, count(*) AS value FROM scenic_spots GROUP BY 1 ORDER BY 2 DESC, 1
"""


def make_view(text: str = TEST_VIEW) -> DomainView:
    spec = parse_yaml(text, ViewSpec, "domains/test.yaml")
    content = {d.id: d for d in load_content()}
    return build_view(spec, Title(zh="文化旅游", en="Culture and tourism"),
                      ("WLJ", "泗县文化旅游体育局"), content)
