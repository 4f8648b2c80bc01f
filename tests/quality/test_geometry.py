"""Geometry rules on the session's PostGIS with the demo county's boundary and roads: valid
(a bow-tie, with ST_IsValidReason), non-empty, type, SRID (4490 refused by the gate), inside
the county, coverage overlaps and gaps, GCJ-02 plausibility; a layer's own table."""

from __future__ import annotations

import sqlalchemy as sa
from shapely import wkb, wkt

from backend.catalog.layers import load_catalog
from backend.datasets.store import Row
from backend.geo.gcj02 import wgs84_to_gcj02
from backend.incidents.calendar import WorkCalendar
from backend.quality.runner import run_dataset
from backend.settings import Settings
from tests.quality.conftest import Made, results

FIELDS = [("fid", "string", True), ("name", "string", False)]


def ewkb(text: str, srid: int = 4326) -> str:
    return wkb.dumps(wkt.loads(text), hex=True, srid=srid)


def inside(engine: sa.Engine) -> tuple[float, float]:
    with engine.connect() as conn:
        x, y = conn.execute(sa.text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface("
                                    "ST_Union(geom)) AS p FROM county) c")).one()
    return float(x), float(y)


def test_points_valid_nonempty_type_inside(made: Made, engine: sa.Engine,
                                           calendar: WorkCalendar) -> None:
    x, y = inside(engine)
    made.create("q_points", FIELDS, key="fid", geometry="point")
    rows = [Row("P1", {"fid": "P1"}, ewkb(f"POINT({x} {y})")),
            Row("P2", {"fid": "P2"}, ewkb("POINT EMPTY")),
            Row("P3", {"fid": "P3"}, None),
            Row("P4", {"fid": "P4"}, ewkb(f"LINESTRING({x} {y}, {x + 0.001} {y})")),
            Row("P5", {"fid": "P5"}, ewkb("POINT(120.5 30.2)"))]
    made.write("q_points", rows)
    got = results(engine, run_dataset(engine, "q_points", trigger="manual", calendar=calendar))
    assert {k: got[k]["failed"] for k in ("geom_valid", "geom_nonempty", "geom_type",
                                          "geom_srid", "inside_county")} == {
        "geom_valid": 0, "geom_nonempty": 2, "geom_type": 1, "geom_srid": 0,
        "inside_county": 1}
    assert {s["key"] for s in got["geom_nonempty"]["samples"]} == {"P2", "P3"}
    assert got["geom_type"]["samples"][0]["value"] == "LINESTRING"
    assert got["inside_county"]["samples"][0]["key"] == "P5"


def square(x: float, y: float, size: float) -> str:
    return (f"POLYGON(({x} {y}, {x + size} {y}, {x + size} {y + size}, {x} {y + size}, "
            f"{x} {y}))")


def test_coverage_overlaps_gaps_and_a_bow_tie(made: Made, engine: sa.Engine,
                                              calendar: WorkCalendar) -> None:
    x0, y0 = inside(engine)
    cell = 0.0005  # about 50 m: the hole left by one missing cell is about 2,300 m²
    made.create("q_parcels", FIELDS, key="fid", geometry="polygon", coverage=True)
    rows = [Row(f"C{i}{j}", {"fid": f"C{i}{j}"}, ewkb(square(x0 + i * cell, y0 + j * cell,
                                                             cell)))
            for i in range(3) for j in range(3) if (i, j) != (1, 1)]
    rows.append(Row("OVER", {"fid": "OVER"}, ewkb(square(x0 + cell * 0.5, y0 - cell, cell))))
    bow = (f"POLYGON(({x0} {y0 - 3 * cell}, {x0 + cell} {y0 - 2 * cell}, {x0 + cell} "
           f"{y0 - 3 * cell}, {x0} {y0 - 2 * cell}, {x0} {y0 - 3 * cell}))")
    rows.append(Row("BOW", {"fid": "BOW"}, ewkb(bow)))
    made.write("q_parcels", rows)
    got = results(engine, run_dataset(engine, "q_parcels", trigger="manual",
                                      calendar=calendar))
    valid = got["geom_valid"]
    assert valid["failed"] == 1 and valid["samples"][0]["key"] == "BOW"
    assert valid["samples"][0]["reason"].startswith("几何无效：Self-intersection")
    assert got["no_overlaps"]["failed"] == 0  # OVER sits below row 0 but touches it only
    assert got["no_gaps"]["failed"] == 1
    assert "缝隙" in got["no_gaps"]["samples"][0]["reason"]
    rows.append(Row("OVER2", {"fid": "OVER2"}, ewkb(square(x0 + cell * 0.5, y0 + cell * 0.5,
                                                          cell * 0.4))))
    made.write("q_parcels", rows)
    got = results(engine, run_dataset(engine, "q_parcels", trigger="manual",
                                      calendar=calendar))
    overlaps = got["no_overlaps"]
    assert overlaps["failed"] == 2  # OVER2 lies inside C00: two parcels, one pair
    assert overlaps["samples"][0]["key"] == "C00"
    assert overlaps["samples"][0]["reason"].startswith("与 OVER2 重叠")


def test_the_gate_refuses_srid_4490_and_keeps_the_report(made: Made,
                                                          engine: sa.Engine) -> None:
    x, y = inside(engine)
    made.create("q_srid", FIELDS, key="fid", geometry="point")
    out = made.write("q_srid", [Row("A", {"fid": "A"}, ewkb(f"POINT({x} {y})")),
                                Row("B", {"fid": "B"}, ewkb(f"POINT({x} {y})", srid=4490))],
                     gate=True)
    assert out.status == "rejected" and out.seq is None
    blocking = {f["rule"]: f for f in out.report["blocking"]}
    assert set(blocking) == {"geom_srid"}
    assert blocking["geom_srid"]["samples"][0]["value"] == "SRID 4490"
    with engine.connect() as conn:
        kept = conn.execute(sa.text(
            "SELECT status, report->'blocking'->0->>'rule' FROM dataset_versions "
            "WHERE id = :v"), {"v": out.version_id}).one()
        stored = conn.execute(sa.text("SELECT count(*) FROM dataset_rows WHERE dataset_id = "
                                      "'q_srid'")).scalar_one()
    assert tuple(kept) == ("rejected", "geom_srid") and stored == 0
    ok = made.write("q_srid", [Row("A", {"fid": "A"}, ewkb(f"POINT({x} {y})"))], gate=True)
    assert ok.status == "accepted"


def road_points(engine: sa.Engine, n: int = 80) -> list[tuple[float, float]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(geom, 0.5) AS p "
            "FROM roads ORDER BY id LIMIT :n) r"), {"n": n}).all()
    return [(float(x), float(y)) for x, y in rows]


def test_gcj02_shifted_points_are_flagged_and_true_ones_not(made: Made, engine: sa.Engine,
                                                            calendar: WorkCalendar) -> None:
    points = road_points(engine)
    assert len(points) >= 30
    made.create("q_true", FIELDS, key="fid", geometry="point")
    made.create("q_shifted", FIELDS, key="fid", geometry="point")
    for dataset_id in ("q_true", "q_shifted"):
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO quality_rules (dataset_id, rule_key, kind, dimension, params) "
                "VALUES (:d, 'gcj02_plausible', 'gcj02_plausible', 'geometry', "
                "'{\"sample\": 300, \"share\": 0.7, \"ratio\": 0.6, \"min_gain_m\": 10.0}')"),
                {"d": dataset_id})
    made.write("q_true", [Row(f"T{i}", {"fid": f"T{i}"}, ewkb(f"POINT({x} {y})"))
                          for i, (x, y) in enumerate(points)])
    gx, gy = wgs84_to_gcj02([p[0] for p in points], [p[1] for p in points])
    made.write("q_shifted", [Row(f"S{i}", {"fid": f"S{i}"}, ewkb(f"POINT({x} {y})"))
                             for i, (x, y) in enumerate(zip(gx, gy, strict=True))])
    true = results(engine, run_dataset(engine, "q_true", trigger="manual",
                                       calendar=calendar))["gcj02_plausible"]
    shifted = results(engine, run_dataset(engine, "q_shifted", trigger="manual",
                                          calendar=calendar))["gcj02_plausible"]
    assert true["failed"] == 0 and "未见偏移" in true["message"]
    assert shifted["failed"] > 0.8 * shifted["checked"]
    assert shifted["message"].startswith("疑似 GCJ-02 坐标未转换")
    assert "反偏移后" in shifted["message"]


def test_a_layer_dataset_is_checked_on_its_table(engine: sa.Engine, settings: Settings,
                                                 calendar: WorkCalendar) -> None:
    # the catalog's own record of the parcels layer (the server syncs it at start)
    from backend.datasets.sync import sync_from
    from backend.quality.rules import sync_rules

    layers = load_catalog(settings.layers_dir)
    sync_from(settings, engine, layers)
    sync_rules(engine, settings.catalog_dir, "parcels")
    run = run_dataset(engine, "parcels", trigger="manual", calendar=calendar, layers=layers)
    got = results(engine, run)
    with engine.connect() as conn:
        parcels = conn.execute(sa.text("SELECT count(*) FROM parcels")).scalar_one()
    assert got["geom_srid"]["checked"] == parcels > 0
    assert got["geom_srid"]["failed"] == 0
