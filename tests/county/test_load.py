"""The small county in PostGIS (loaded once per session by the shared `county` fixture)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.county import TABLES, County, load_county
from backend.errors import Conflict

SRC = {"src": "demo:sixian"}


def scalar(engine: Engine, query: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(query), SRC).scalar_one()


def test_counts_match_the_built_county(engine: Engine, county: dict[str, int],
                                       small_county: County) -> None:
    assert county == small_county.counts()
    for table in [*TABLES, "bus_line_stops"]:
        where = "" if table == "bus_line_stops" else " WHERE source = :src"
        assert scalar(engine, f"SELECT count(*) FROM {table}{where}") == county[table], table


def test_loading_again_replaces_instead_of_duplicating(engine: Engine, county: dict[str, int],
                                                       small_county: County) -> None:
    again = load_county(engine, small_county, replace=True)
    assert again == county
    for table in TABLES:
        assert scalar(engine, f"SELECT count(*) FROM {table} WHERE source = :src") == \
            county[table], table
    assert scalar(engine, "SELECT count(*) FROM bus_line_stops") == county["bus_line_stops"]


def test_reloading_keeps_the_cases_and_assignments_that_refer_to_grid_cells(
        engine: Engine, county: dict[str, int], small_county: County,
        client: object) -> None:  # the running app has synced the case categories
    """Grid cells come back with the same codes, so cases keep their cell and workers theirs
    (the references are checked at commit, not at the delete)."""
    with engine.begin() as conn:
        cell = conn.execute(sa.text("SELECT grid_code FROM grid_cells ORDER BY grid_code "
                                    "LIMIT 1")).scalar_one()
        worker = conn.execute(sa.text("SELECT id FROM users WHERE username = 'grid_worker'")
                              ).scalar_one()
        conn.execute(sa.text("INSERT INTO grid_workers (grid_code, user_id) VALUES (:g, :u) "
                             "ON CONFLICT DO NOTHING"), {"g": cell, "u": worker})
        conn.execute(sa.text(
            "INSERT INTO incidents (case_no, category_code, description, lon, lat, grid_code, "
            "state, source, reported_at) SELECT 'T-RELOAD-1', code, 'reload test', 117.88, 33.48,"
            " :g, 'reported', 'hotline', now() FROM case_categories LIMIT 1"), {"g": cell})
    try:
        load_county(engine, small_county, replace=True)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT grid_code FROM incidents WHERE case_no = "
                                        "'T-RELOAD-1'")).scalar_one() == cell
            assert conn.execute(sa.text("SELECT count(*) FROM grid_workers WHERE grid_code = :g "
                                        "AND user_id = :u"), {"g": cell, "u": worker}
                                ).scalar_one() == 1
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM incidents WHERE case_no = 'T-RELOAD-1'"))
            conn.execute(sa.text("DELETE FROM grid_workers WHERE user_id = :u"), {"u": worker})


def test_loading_without_replace_refuses_and_changes_nothing(
        engine: Engine, county: dict[str, int], small_county: County) -> None:
    with pytest.raises(Conflict):
        load_county(engine, small_county, replace=False)
    assert scalar(engine, "SELECT count(*) FROM parcels WHERE source = :src") == county["parcels"]


def test_geometries_are_valid_and_typed(engine: Engine, county: dict[str, int]) -> None:
    for table in TABLES:
        bad = scalar(engine, f"SELECT count(*) FROM {table} WHERE source = :src AND "
                             "(NOT ST_IsValid(geom) OR ST_SRID(geom) <> 4326 OR geom_3857 IS NULL)")
        assert bad == 0, table


def test_grid_cells_partition_the_county_in_postgis(engine: Engine, county: dict[str, int]) -> None:
    with engine.connect() as conn:
        row = conn.execute(sa.text("""
            WITH u AS (SELECT ST_Union(geom) AS g, sum(ST_Area(geom::geography)) AS total
                       FROM grid_cells WHERE source = :src),
                 c AS (SELECT geom AS g FROM county WHERE source = :src)
            SELECT ST_Area(c.g::geography), ST_Area(u.g::geography), u.total,
                   ST_Area(ST_SymDifference(u.g, c.g)::geography)
            FROM u, c"""), SRC).one()
        county_area, union_area, total, diff = row
        assert diff / county_area < 1e-6
        assert abs(union_area - county_area) / county_area < 1e-6
        assert abs(total - union_area) / union_area < 1e-6
        overlaps = conn.execute(sa.text("""
            SELECT count(*) FROM grid_cells a JOIN grid_cells b
              ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
            WHERE a.source = :src AND b.source = :src
              AND ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 0.01"""), SRC).scalar()
        assert overlaps == 0


def test_parcels_neither_overlap_nor_cross_roads(engine: Engine, county: dict[str, int]) -> None:
    overlaps = scalar(engine, """
        SELECT count(*) FROM parcels a JOIN parcels b
          ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
        WHERE a.source = :src AND b.source = :src
          AND ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 0.01""")
    assert overlaps == 0
    crossing = scalar(engine, """
        SELECT count(*) FROM roads r JOIN parcels p ON r.geom && p.geom
        WHERE r.source = :src AND p.source = :src AND ST_Relate(r.geom, p.geom, 'T********')""")
    assert crossing == 0
    outside = scalar(engine, """
        SELECT count(*) FROM buildings b WHERE b.source = :src AND NOT EXISTS (
          SELECT 1 FROM parcels p WHERE p.source = :src AND p.geom && b.geom
            AND ST_CoveredBy(b.geom, p.geom))""")
    assert outside == 0


def test_bus_stops_are_on_their_lines_in_order(engine: Engine, county: dict[str, int]) -> None:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT l.code, ls.seq, ls.distance_m,
                   ST_Distance(ST_Transform(s.geom, 4548), ST_LineInterpolatePoint(
                       ST_Transform(l.geom, 4548),
                       LEAST(1.0, ls.distance_m / ST_Length(ST_Transform(l.geom, 4548))))) AS off,
                   ST_Distance(s.geom::geography, l.geom::geography) AS gap
            FROM bus_line_stops ls JOIN bus_lines l ON l.id = ls.line_id
            JOIN bus_stops s ON s.id = ls.stop_id
            WHERE l.source = :src ORDER BY l.code, ls.seq"""), SRC).all()
    assert rows
    last: dict[str, float] = {}
    for code, _seq, dist, off, gap in rows:
        assert gap < 0.5 and off < 1.0, (code, dist)
        assert dist > last.get(code, -1.0)
        last[code] = dist
    off_road = scalar(engine, """
        WITH p AS (SELECT (ST_DumpPoints(ST_Segmentize(geom::geography, 25)::geometry)).geom AS g
                   FROM bus_lines WHERE source = :src)
        SELECT count(*) FROM p WHERE NOT EXISTS (
          SELECT 1 FROM roads r WHERE r.source = :src AND r.geom && ST_Expand(p.g, 0.0002)
            AND ST_DWithin(r.geom::geography, p.g::geography, 2.0))""")
    assert off_road == 0


def test_layer_versions_are_bumped(engine: Engine, county: dict[str, int]) -> None:
    for table in ("parcels", "grid_cells", "bus_lines"):
        v = scalar(engine, f"SELECT version FROM layer_versions WHERE table_name = '{table}'")
        assert v >= 1
