"""The traffic service on the real database: segments derived from roads and the pilot
segments, buckets stored in day partitions, typical speeds, the index, alerts raised and
cleared by the rules (speeds fed as the probe engine would publish them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backend.ingest.jt808.alarm_bits import encode_alarms
from backend.ingest.position import Position
from backend.realtime.messages import TRAFFIC, TRAFFIC_ALERTS
from backend.traffic import segments as segment_store
from backend.traffic import store
from backend.traffic.service import seed_typical
from backend.traffic.typical import slot_of
from tests.traffic.support import (
    FIVE,
    TZ,
    Pushed,
    alerts_of,
    pilot_segments,
    segments_of_class,
    service,
    speeds,
)

# `client` in a test's arguments: the session app has started, its lifespan filled
# traffic_segments.
# Local Monday 2026-03-02 08:00 (00:00 UTC): a fixed past morning peak for these tests.
MONDAY_8 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def test_segments_are_both_directions_of_every_road(engine: sa.Engine, client) -> None:  # noqa: ANN001
    with engine.connect() as conn:
        roads = conn.execute(sa.text("SELECT count(*) FROM roads")).scalar_one()
        n, forward, pilot, townships = conn.execute(sa.text(
            "SELECT count(*), count(*) FILTER (WHERE forward), count(pilot_code), "
            "count(township_code) FROM traffic_segments")).one()
        # The backward segment is the forward one reversed.
        flipped = conn.execute(sa.text("""
SELECT bool_and(ST_Equals(f.geom, ST_Reverse(b.geom))) FROM traffic_segments f
JOIN traffic_segments b ON b.segment = f.segment + 1 WHERE f.forward""")).scalar_one()
    assert n == 2 * roads and forward == roads and flipped
    assert townships == n  # every midpoint lies in a township of the county
    assert pilot > 0


def test_pilot_codes_follow_the_direction_of_the_pilot_line(engine: sa.Engine, client) -> None:  # noqa: ANN001
    a, b = pilot_segments(engine, "SX-JT-01A"), pilot_segments(engine, "SX-JT-01B")
    assert a and b
    assert all(s % 2 == a[0] % 2 for s in a) and all(s % 2 == b[0] % 2 for s in b)
    assert {s >> 1 for s in a} == {s >> 1 for s in b}  # the same roads, the other way
    with engine.connect() as conn:
        covered, length = conn.execute(sa.text("""
SELECT sum(s.length_m), max(p.length_m) FROM traffic_segments s
JOIN pilot_segments p ON p.code = s.pilot_code WHERE s.pilot_code = 'SX-JT-01A'""")).one()
        # Refreshing again changes nothing.
        report = segment_store.refresh(conn)
    assert covered == pytest.approx(length, rel=0.01)
    assert report.changed == 0 and report.removed == 0


def test_a_closed_bucket_is_stored_in_its_day_partition_with_levels(engine: sa.Engine,
                                                                     client) -> None:  # noqa: ANN001
    segs = pilot_segments(engine, "SX-JT-02A")
    svc = service(engine)
    start = MONDAY_8 + 20 * FIVE
    values = dict(zip(segs, (45.0, 35.0, 18.0, 12.0), strict=False))
    svc.close_bucket(start, speeds(start, values) + speeds(start, {segs[0] + 1: 50.0}, 2))
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT tableoid::regclass::text, segment, level, vehicles FROM traffic_speeds "
            "WHERE bucket_start = :t AND segment = ANY(:s) ORDER BY segment"),
            {"t": start, "s": [*segs, segs[0] + 1]}).all()
    assert {r[0] for r in rows} == {"traffic_speeds_p20260302"}
    # primary = 主干路: > 40 畅通, 30-40 基本畅通, 15-20 中度, <= 15 严重; two vehicles: not stored.
    assert [(r[1], r[2]) for r in rows] == list(zip(segs, (1, 2, 4, 5), strict=False))


def test_typical_speeds_are_learned_per_slot_and_seeded(engine: sa.Engine, client) -> None:  # noqa: ANN001
    seg = pilot_segments(engine, "SX-JT-03A")[0]
    svc = service(engine)
    start = MONDAY_8 + 40 * FIVE
    slot = slot_of(start, TZ)
    for week, v in enumerate((30.0, 40.0)):
        t = start + timedelta(weeks=week)
        svc.close_bucket(t, speeds(t, {seg: v}))
    with engine.begin() as conn:
        learned = store.typical_for(conn, slot, [seg])
        assert learned == {seg: (pytest.approx(35.0), 2)}
        assert seed_typical(conn, [(seg, slot, 50.0), (seg, slot + 1, 45.0, 3)]) == 2
        assert store.typical_for(conn, slot + 1, [seg]) == {seg: (45.0, 3)}
        assert store.typical_for(conn, slot, [seg])[seg] == (50.0, store.TYPICAL_WINDOW)
        with pytest.raises(ValueError, match="slot 0..2015"):
            seed_typical(conn, [(seg, 2016, 30.0)])


def test_old_days_are_dropped_by_retention(engine: sa.Engine, client) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        store.store_bucket(conn, datetime(2020, 1, 1, 3, tzinfo=UTC),
                           [store.BucketRow(2, 20.0, 3, 3, 3)])
        assert conn.execute(sa.text("SELECT to_regclass('traffic_speeds_p20200101')")).scalar()
        assert store.drop_before(conn, date(2020, 1, 2)) >= 1
        assert conn.execute(sa.text("SELECT to_regclass('traffic_speeds_p20200101')")
                            ).scalar() is None


def test_index_of_the_seat_and_townships(engine: sa.Engine, client) -> None:  # noqa: ANN001
    svc = service(engine)
    with engine.connect() as conn:
        seat_codes = [c for (c,) in conn.execute(sa.text(
            "SELECT code FROM townships WHERE kind = '街道'"))]
    seat = [s for s, i in svc.segments.items() if i.township_code in seat_codes
            and i.road_class == "primary"][:6]
    free = {s: 60.0 for s in seat}
    assert svc.snapshot(MONDAY_8, speeds(MONDAY_8, free)).seat.tpi == 0.0
    jam = {s: 5.0 for s in seat}
    snap = svc.snapshot(MONDAY_8, speeds(MONDAY_8, jam))
    assert snap.seat.tpi == 10.0 and snap.seat.level == 5
    assert snap.seat.length_m == pytest.approx(sum(svc.segments[s].length_m for s in seat))
    by_code = {a.code: a for a in snap.townships}
    assert any(by_code[c].tpi == 10.0 for c in seat_codes)
    # A township without any published speed has no index (never guessed).
    assert any(a.tpi is None and a.level == 0 for a in snap.townships)


def test_congestion_raised_and_cleared_with_hysteresis(engine: sa.Engine, client) -> None:  # noqa: ANN001
    seg = pilot_segments(engine, "SX-JT-04A")[1]
    pushed = Pushed()
    svc = service(engine, pushed)
    t = MONDAY_8 + 60 * FIVE
    plan = [12.0, 12.0, 18.0, 35.0, 38.0, 40.0]  # 严重, 严重, 中度, 基本畅通 x3
    changed = []
    for k, v in enumerate(plan):
        changed.append([(a.kind, a.status) for a in
                        svc.close_bucket(t + k * FIVE, speeds(t + k * FIVE, {seg: v}))])
    assert changed == [[], [("congestion", "active")], [("congestion", "active")], [],
                       [("congestion", "cleared")], []]
    (alert,) = [a for a in alerts_of(engine, [seg]) if a.kind == "congestion"]
    assert alert.status == "cleared" and alert.revision == 2  # level 5 -> 4, then cleared
    events = [(e["action"], e["level"]) for e in pushed.on(TRAFFIC_ALERTS)
              if e["segment"] == seg]
    assert events == [("raised", 5), ("updated", 4), ("cleared", 4)]
    assert all("lon" in e and "lat" in e for e in pushed.on(TRAFFIC_ALERTS))


def test_abnormally_slow_against_the_typical_speed(engine: sa.Engine, client) -> None:  # noqa: ANN001
    seg = segments_of_class(engine, "secondary", 1, offset=3)[0]
    svc = service(engine)
    t = MONDAY_8 + 90 * FIVE
    with engine.begin() as conn:
        seed_typical(conn, [(seg, slot_of(t + k * FIVE, TZ), 50.0) for k in range(4)])
    # 22 km/h on a 次干路 is 轻度拥堵 (no congestion alert) but under half the usual 50.
    for k in range(2):
        svc.close_bucket(t + k * FIVE, speeds(t + k * FIVE, {seg: 22.0}))
    alerts = alerts_of(engine, [seg])
    assert [(a.kind, a.status, a.level) for a in alerts] == [("slow", "active", 3)]


def test_restart_keeps_an_open_alert_open_without_repeating_it(engine: sa.Engine,
                                                                 client) -> None:  # noqa: ANN001
    seg = pilot_segments(engine, "SX-JT-05A")[0]
    t = MONDAY_8 + 120 * FIVE
    first = service(engine)
    for k in range(2):
        first.close_bucket(t + k * FIVE, speeds(t + k * FIVE, {seg: 10.0}))
    again = service(engine)  # a new process: state rebuilt from the open alert
    assert again.close_bucket(t + 2 * FIVE, speeds(t + 2 * FIVE, {seg: 10.0})) == []
    changed = []
    for k in (3, 4):
        changed += again.close_bucket(t + k * FIVE, speeds(t + k * FIVE, {seg: 45.0}))
    assert [(a.kind, a.status) for a in changed] == [("congestion", "cleared")]
    assert len(alerts_of(engine, [seg])) == 1


def _beside(engine: sa.Engine, segment: int, metres: float) -> tuple[float, float]:
    """A point `metres` to the right of the segment's midpoint (negative: to the left)."""
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text("""
WITH g AS (SELECT ST_Transform(geom, 4548) AS m FROM traffic_segments WHERE segment = :s),
p AS (SELECT ST_LineInterpolatePoint(m, 0.45) AS a, ST_LineInterpolatePoint(m, 0.55) AS b FROM g),
o AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(
  (ST_X(a) + ST_X(b)) / 2 + :d * (ST_Y(b) - ST_Y(a)) / ST_Distance(a, b),
  (ST_Y(a) + ST_Y(b)) / 2 - :d * (ST_X(b) - ST_X(a)) / ST_Distance(a, b)), 4548), 4326) AS q
  FROM p)
SELECT ST_X(q), ST_Y(q) FROM o"""), {"s": segment, "d": metres}).one()
    return lon, lat


def test_nearest_segment_is_the_direction_whose_right_side_the_point_is_on(
        engine: sa.Engine, client) -> None:  # noqa: ANN001
    seg = pilot_segments(engine, "SX-JT-06A")[1]
    with engine.connect() as conn:
        right = segment_store.nearest(conn, *_beside(engine, seg, 4.0), 60)
        left = segment_store.nearest(conn, *_beside(engine, seg, -4.0), 60)
        nowhere = segment_store.nearest(conn, 116.0, 33.0, 60)
    assert (right, left, nowhere) == (seg, seg ^ 1, None)


def test_accident_case_raises_and_its_closing_clears(client, engine: sa.Engine) -> None:  # noqa: ANN001
    seg = pilot_segments(engine, "SX-JT-07A")[2]
    pushed = Pushed()
    svc = service(engine, pushed)
    lon, lat = _beside(engine, seg, 3.0)
    case = client.post("/api/incidents", json={
        "category_code": "E0505", "description": "两车追尾，占用一条车道", "lon": lon, "lat": lat})
    assert case.status_code == 201, case.text
    now = datetime.now(UTC)
    (alert,) = svc.check_accidents(now)
    assert (alert.kind, alert.segment, alert.case_id, alert.source_key) == (
        "accident", seg, case.json()["id"], f"case:{case.json()['id']}")
    assert svc.check_accidents(now) == []  # still open: nothing new
    void = client.post(f"/api/incidents/{case.json()['id']}/actions/void",
                       json={"note": "重复上报"})
    assert void.status_code == 200, void.text
    (cleared,) = svc.check_accidents(now + timedelta(seconds=30))
    assert (cleared.id, cleared.status) == (alert.id, "cleared")
    assert [e["action"] for e in pushed.on(TRAFFIC_ALERTS)] == ["raised", "cleared"]
    assert pushed.on(TRAFFIC_ALERTS)[0]["headline_zh"].endswith("交通事故")


def test_collision_alarm_from_a_terminal_raises_an_accident(engine: sa.Engine, client) -> None:  # noqa: ANN001
    seg = pilot_segments(engine, "SX-JT-08A")[0]
    svc = service(engine)
    lon, lat = _beside(engine, seg, 2.0)
    t = datetime.now(UTC)
    svc.consume([Position("accident-car-1", t, lon, lat, 0.0, alarm_flags=encode_alarms(
        ["collision", "low_voltage"])), Position("plain-car", t, lon, lat, 30.0,
                                                  alarm_flags=encode_alarms(["low_voltage"]))])
    (alert,) = svc.check_accidents(t)
    assert (alert.kind, alert.segment, alert.vehicle_id) == ("accident", seg, "accident-car-1")
    assert alert.details["alarms"] == ["collision"]
    (cleared,) = svc.check_accidents(t + timedelta(minutes=31))  # not reported for 30 min
    assert cleared.status == "cleared"


def test_live_levels_are_pushed_with_their_bbox_and_the_index(engine: sa.Engine,
                                                                client) -> None:  # noqa: ANN001
    segs = pilot_segments(engine, "SX-JT-01A")
    pushed = Pushed()
    svc = service(engine, pushed)
    now = datetime.now(UTC)
    svc.publish_live(now, speeds(now - FIVE, {segs[0]: 12.0, segs[1]: 50.0}))
    svc.publish_live(now, speeds(now - FIVE, {segs[1]: 50.0}))
    first, second = pushed.on(TRAFFIC)
    assert sorted((s["segment"], s["level"]) for s in first["segments"]) == [
        (segs[0], 5), (segs[1], 1)]
    w, s, e, n = first["bbox"]
    assert 117 < w < e < 119 and 33 < s < n < 34
    assert first["tpi"]["seat"] is not None
    # The segment that lost its vehicles is told once as unknown.
    assert sorted((x["segment"], x["level"]) for x in second["segments"]) == [
        (segs[0], 0), (segs[1], 1)]
