"""The whole traffic chain on the traffic-peak scenario's hour, against its ground truth: the
plan's noisy fixes go through the real probe engine (map matching, traversal speeds) into the
traffic service, driven by its cadence on the scenario's clock; what comes out (stored bucket
speeds and levels, alerts, hub events) is compared with what the plan says happened.

One run for the module (about half a minute); each test reads a different part of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from backend.catalog.scenarios import SCENARIOS_DIR
from backend.catalog.traffic_scenarios import load_traffic_file
from backend.incidents.categories import load_categories, sync_categories
from backend.settings import Settings
from backend.simulation.traffic_plan import TrafficPlan
from backend.simulation.traffic_run import file_accident_case, plan_for
from backend.traffic.cadence import Cadence
from backend.traffic.levels import BUCKET
from backend.traffic.service import TrafficService, seed_typical
from backend.traffic.wiring import probe_engine
from tests.traffic.support import LEVELS, TZ, Pushed

# A Sunday evening of its own in the past: no other test's buckets or alerts fall in its hour.
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # 17:00 in 泗县
PUBLISH_S = 30


@dataclass
class Run:
    plan: TrafficPlan
    service: TrafficService
    pushed: Pushed
    published_at: list[float]  # scenario seconds of each live publication


def _cleanup(engine: sa.Engine) -> None:
    end = START + timedelta(hours=2)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM traffic_alerts WHERE started_at >= :a "
                             "AND started_at < :b"), {"a": START, "b": end})
        conn.execute(sa.text("DELETE FROM traffic_speeds WHERE bucket_start >= :a "
                             "AND bucket_start < :b"), {"a": START, "b": end})
        conn.execute(sa.text("DELETE FROM traffic_tpi WHERE bucket_start >= :a "
                             "AND bucket_start < :b"), {"a": START, "b": end})
        conn.execute(sa.text("DELETE FROM incidents WHERE category_code = 'E0505' "
                             "AND reported_at >= :a AND reported_at < :b"), {"a": START, "b": end})
        conn.execute(sa.text("DELETE FROM traffic_typical"))


@pytest.fixture(scope="module")
def run(engine: sa.Engine, county: dict[str, int], settings: Settings) -> Iterator[Run]:
    with engine.begin() as conn:  # as the server does at start: 交通事故 is a category
        sync_categories(conn, load_categories(settings.case_categories))
    scenario = load_traffic_file(SCENARIOS_DIR / "traffic-peak" / "scenario.yaml")
    plan = plan_for(engine, scenario, START)
    _cleanup(engine)
    with engine.begin() as conn:
        seed_typical(conn, plan.typical)
    pushed = Pushed()
    service = TrafficService(engine, LEVELS, tz=TZ, publish=pushed, probes=probe_engine(engine),
                             retention_days=36_500)
    service.start()
    cadence = Cadence(service, publish_s=PUBLISH_S, delay_s=30)
    report_at = (plan.accident.reported_at - plan.start).total_seconds()
    filed, next_tick, published = False, 0.0, []
    for end_s, lo, hi in plan.ticks():
        service.consume(plan.positions(lo, hi))
        if not filed and end_s >= report_at:
            file_accident_case(engine, plan)  # the 122 hotline, at its simulated time
            filed = True
        if end_s >= next_tick:
            cadence.tick(plan.time_of(end_s))
            published.append(end_s)
            next_tick = end_s + PUBLISH_S
    # Ten quiet minutes after the hour close the last buckets.
    for extra in range(0, 601, PUBLISH_S):
        cadence.tick(plan.time_of(scenario.duration_s + extra))
    yield Run(plan, service, pushed, published)
    _cleanup(engine)


def stored(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT segment, bucket_start, speed_kmh, vehicles, level FROM traffic_speeds "
            "WHERE bucket_start >= :a AND bucket_start < :b ORDER BY bucket_start, segment"),
            {"a": START, "b": START + timedelta(hours=1)}))


def test_stored_bucket_speeds_match_the_scenarios_truth(run: Run, engine: sa.Engine) -> None:
    rows = stored(engine)
    errors, covered = [], 0
    for r in rows:
        truth = run.plan.truth_at(r.segment, r.bucket_start)
        if truth is not None:
            errors.append(abs(r.speed_kmh - truth.speed_kmh))
    truth_known = [s for s in run.plan.truth if s.vehicles >= LEVELS.min_vehicles]
    keys = {(r.segment, r.bucket_start) for r in rows}
    covered = sum((s.segment, s.start) in keys for s in truth_known)
    assert len(errors) >= 200
    # The target: segment speed mean absolute error <= 5 km/h against the truth.
    assert float(np.mean(errors)) <= 5.0, f"MAE {np.mean(errors):.2f} km/h"
    # Most segment-buckets the truth has with >= k vehicles are published.
    assert covered / len(truth_known) >= 0.8
    # Nothing is published with fewer than k distinct vehicles.
    assert min(r.vehicles for r in rows) >= LEVELS.min_vehicles


def test_the_wave_is_congested_while_it_holds(run: Run, engine: sa.Engine) -> None:
    wave = run.plan.scenario.wave
    hold_from = START + timedelta(seconds=wave.at_s + wave.ramp_s)
    hold_to = hold_from + timedelta(seconds=wave.hold_s)
    segments = set(run.plan.wave_segments)
    held = [r for r in stored(engine)
            if r.segment in segments and hold_from <= r.bucket_start and
            r.bucket_start + BUCKET <= hold_to]
    assert held, "no bucket of the wave's segments was published while it held"
    assert all(r.level >= 4 for r in held), [(r.segment, r.speed_kmh, r.level) for r in held]


def test_the_wave_raises_a_congestion_alert_that_clears_after_it(run: Run,
                                                                engine: sa.Engine) -> None:
    wave = run.plan.scenario.wave
    with engine.connect() as conn:
        alerts = list(conn.execute(sa.text(
            "SELECT segment, status, started_at, cleared_at FROM traffic_alerts "
            "WHERE kind = 'congestion' AND started_at >= :a AND started_at < :b "
            "ORDER BY started_at"), {"a": START, "b": START + timedelta(hours=2)}))
    on_wave = [a for a in alerts if a.segment in set(run.plan.wave_segments)]
    assert on_wave, alerts
    congested_from = START + timedelta(seconds=wave.at_s)
    raise_after = timedelta(minutes=LEVELS.alerts.congestion.raise_after_min)
    for a in on_wave:
        # Raised only after the level held for raise_after_min (hysteresis), not before.
        assert a.started_at >= congested_from + raise_after - BUCKET
        # Recovered by 2400 s: cleared, clear_after_min later, within the run.
        assert a.status == "cleared" and a.cleared_at is not None
    # The accident's queue is congestion too; nowhere else is congested for ten minutes.
    elsewhere = [a for a in alerts if a not in on_wave
                 and a.segment not in set(run.plan.accident_segments)]
    assert elsewhere == []


def test_the_accident_becomes_one_alert_on_its_segment(run: Run, engine: sa.Engine) -> None:
    acc = run.plan.accident
    with engine.connect() as conn:
        alerts = list(conn.execute(sa.text(
            "SELECT a.segment, a.started_at, a.vehicle_id, i.category_code FROM traffic_alerts a "
            "LEFT JOIN incidents i ON i.id = a.case_id "
            "WHERE a.kind = 'accident' AND a.started_at >= :a AND a.started_at < :b"),
            {"a": START, "b": START + timedelta(hours=2)}))
    # The taxi's collision bit and the 122 case are one crash: one alert carrying both, on
    # the taxi's matched segment (a case's location alone cannot say which direction).
    assert len(alerts) == 1, alerts
    (alert,) = alerts
    assert alert.segment == acc.segment
    assert alert.vehicle_id == acc.vehicle_id and alert.category_code == acc.category
    assert acc.at <= alert.started_at <= acc.at + timedelta(seconds=PUBLISH_S + 60)


def test_levels_and_alerts_reach_the_hub(run: Run) -> None:
    levels = run.pushed.on("traffic.segments")
    assert len(levels) >= len(run.published_at) // 2
    wave = set(run.plan.wave_segments)
    congested = {s["segment"] for e in levels for s in e["segments"] if s["level"] >= 4}
    assert wave & congested
    assert all(e["tpi"]["seat"] is None or 0 <= e["tpi"]["seat"] <= 10 for e in levels)
    actions = {(a["kind"], a["action"]) for a in run.pushed.on("traffic.alerts")}
    assert {("congestion", "raised"), ("congestion", "cleared"),
            ("accident", "raised")} <= actions
