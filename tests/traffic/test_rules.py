"""The alert rules, pure: congestion and abnormally slow with their hysteresis, the accident
rule, and the ordered pipeline per segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.catalog.traffic_levels import (
    AccidentParams,
    AlertParams,
    CongestionParams,
    SlowParams,
)
from backend.traffic.rules import (
    AccidentReport,
    AccidentRule,
    CongestionRule,
    Observation,
    SlowRule,
    TrafficEvent,
    default_rules,
    run_segment_rules,
)

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 in Sixian
FIVE = timedelta(minutes=5)


def obs(k: int, level: int, speed: float | None = 20.0, typical: float | None = None,
        samples: int = 12, segment: int = 42) -> Observation:
    start = T0 + k * FIVE
    return Observation(segment, start, start + FIVE, level, speed, 4 if level else 1,
                       typical, samples if typical is not None else 0)


def feed(rule: object, levels: list[tuple[int, ...]]) -> list[tuple[int, str]]:
    """Feed buckets (level[, speed, typical]) in order; (bucket index, action) of events."""
    state, out = None, []
    for k, item in enumerate(levels):
        state, events = rule.step(state, obs(k, *item))  # type: ignore[attr-defined]
        out += [(k, e.action) for e in events]
    return out


def test_congestion_raises_after_n_minutes_not_before() -> None:
    rule = CongestionRule(CongestionParams(min_level=4, raise_after_min=10, clear_after_min=10))
    # One congested bucket (5 min) is not enough; two in a row (10 min) raise.
    assert feed(rule, [(4,), (2,), (4,), (2,)]) == []
    assert feed(rule, [(4,), (4,)]) == [(1, "raised")]
    # Raised at the level of the bucket that completes the ten minutes (4), no update after.
    assert feed(rule, [(3,), (5,), (4,), (4,)]) == [(2, "raised")]


def test_congestion_clears_only_after_m_minutes_below() -> None:
    rule = CongestionRule(CongestionParams(min_level=4, raise_after_min=10, clear_after_min=15))
    # A dip of one bucket does not clear; three buckets (15 min) below do.
    events = feed(rule, [(4,), (4,), (3,), (4,), (2,), (2,), (3,), (4,)])
    assert events == [(1, "raised"), (6, "cleared")]


def test_congestion_follows_the_level_while_raised() -> None:
    rule = CongestionRule(CongestionParams(min_level=4, raise_after_min=10, clear_after_min=10))
    state, out = None, []
    for k, level in enumerate([4, 4, 5, 5, 4]):
        state, events = rule.step(state, obs(k, level))
        out += [(k, e.action, e.level) for e in events]
    assert out == [(1, "raised", 4), (2, "updated", 5), (4, "updated", 4)]


def test_unknown_buckets_neither_raise_break_nor_clear() -> None:
    rule = CongestionRule(CongestionParams(min_level=4, raise_after_min=10, clear_after_min=10))
    # Unknown (0) between two congested buckets: the condition held since bucket 0.
    assert feed(rule, [(4,), (0, None), (4,)]) == [(2, "raised")]
    # Raised, then only unknown buckets: it stays raised (too few vehicles is no all-clear).
    assert feed(rule, [(4,), (4,), (0, None), (0, None), (0, None)]) == [(1, "raised")]


def test_raised_event_carries_when_it_started() -> None:
    rule = CongestionRule(CongestionParams(min_level=4, raise_after_min=10, clear_after_min=5))
    state, events = None, []
    for k, level in enumerate([2, 4, 5, 2]):
        state, produced = rule.step(state, obs(k, level, speed=12.0))
        events += produced
    raised, cleared = events
    assert raised.started_at == T0 + FIVE and raised.time == T0 + 3 * FIVE
    assert raised.speed_kmh == 12.0 and raised.level == 5
    assert cleared.action == "cleared" and cleared.started_at == T0 + FIVE


def test_slow_compares_with_the_typical_speed_of_the_slot() -> None:
    rule = SlowRule(SlowParams(fraction=0.5, min_samples=3, raise_after_min=10,
                               clear_after_min=10))
    # 14 km/h against a typical 35: below half -> slow; 20 against 35 is not.
    assert feed(rule, [(3, 14.0, 35.0), (3, 14.0, 35.0), (2, 20.0, 35.0),
                       (2, 30.0, 35.0)]) == [(1, "raised"), (3, "cleared")]
    # The same speeds against a typical of 25 are not slow.
    assert feed(rule, [(3, 14.0, 25.0), (3, 14.0, 25.0)]) == []


def test_slow_needs_a_typical_learned_from_enough_samples() -> None:
    rule = SlowRule(SlowParams(fraction=0.5, min_samples=3, raise_after_min=10,
                               clear_after_min=10))
    state, out = None, []
    for k in range(3):
        state, events = rule.step(state, Observation(7, T0 + k * FIVE, T0 + (k + 1) * FIVE, 4,
                                                     10.0, 5, 40.0, 2))
        out += events
    assert out == []  # two samples are not a typical speed yet
    assert feed(rule, [(4, 10.0, None), (4, 10.0, None)]) == []


def test_rules_run_in_order_and_ignore_replayed_buckets() -> None:
    rules = default_rules(AlertParams(congestion=CongestionParams(raise_after_min=5),
                                      slow=SlowParams(raise_after_min=5)))
    state, events = run_segment_rules(None, obs(0, 5, 8.0, 40.0), rules)
    assert [(e.kind, e.action) for e in events] == [("congestion", "raised"), ("slow", "raised")]
    again, replayed = run_segment_rules(state, obs(0, 1, 60.0, 40.0), rules)
    assert replayed == [] and again is state


def report(key: str, minutes: float, segment: int = 10, case_id: int | None = None
           ) -> AccidentReport:
    return AccidentReport(key, segment, T0 + timedelta(minutes=minutes), 117.88, 33.48,
                          case_id=case_id, vehicle_id=None if case_id else key.split(":")[1])


def actions(events: list[TrafficEvent]) -> list[tuple[str, str]]:
    return [(e.source_key, e.action) for e in events]


def test_accident_from_a_terminal_alarm_clears_when_it_stops_being_reported() -> None:
    rule = AccidentRule(AccidentParams(clear_after_min=30))
    s, ev = rule.step(None, [report("vehicle:v1", 0)], None, T0)
    assert actions(ev) == [("vehicle:v1", "raised")]
    s, ev = rule.step(s, [report("vehicle:v1", 10)], None, T0 + timedelta(minutes=10))
    assert ev == []  # still reported: nothing new
    s, ev = rule.step(s, [], None, T0 + timedelta(minutes=39))
    assert ev == []  # 29 minutes quiet
    s, ev = rule.step(s, [], None, T0 + timedelta(minutes=40))
    assert actions(ev) == [("vehicle:v1", "cleared")]
    assert ev[0].started_at == T0 and ev[0].time == T0 + timedelta(minutes=40)


def test_accident_from_a_case_lasts_while_the_case_is_open() -> None:
    rule = AccidentRule(AccidentParams(clear_after_min=30))
    s, ev = rule.step(None, [report("case:5", 0, case_id=5)], frozenset({5}), T0)
    assert actions(ev) == [("case:5", "raised")] and ev[0].case_id == 5
    # Hours later, the case still open: no clearing by age; unknown case list: no clearing.
    s, ev = rule.step(s, [report("case:5", 0, case_id=5)], frozenset({5}), T0 + timedelta(hours=3))
    assert ev == []
    s, ev = rule.step(s, [], None, T0 + timedelta(hours=4))
    assert ev == []
    s, ev = rule.step(s, [], frozenset(), T0 + timedelta(hours=5))
    assert actions(ev) == [("case:5", "cleared")]


def test_an_accident_moving_to_another_segment_is_an_update() -> None:
    rule = AccidentRule(AccidentParams())
    s, _ = rule.step(None, [report("vehicle:v2", 0, segment=10)], None, T0)
    s, ev = rule.step(s, [report("vehicle:v2", 1, segment=11)], None, T0 + timedelta(minutes=1))
    assert actions(ev) == [("vehicle:v2", "updated")] and ev[0].segment == 11
    # Out-of-order (older) reports change nothing.
    s, ev = rule.step(s, [report("vehicle:v2", 0.5, segment=12)], None, T0 + timedelta(minutes=2))
    assert ev == []


def test_a_case_at_an_alarmed_vehicles_place_joins_its_alert() -> None:
    rule = AccidentRule(AccidentParams(clear_after_min=30))
    s, ev = rule.step(None, [report("vehicle:v3", 0, segment=21)], None, T0)
    assert actions(ev) == [("vehicle:v3", "raised")]
    # The 122 case two minutes later, placed on the other direction of the same road.
    s, ev = rule.step(s, [report("case:7", 2, segment=20, case_id=7)], frozenset({7}),
                      T0 + timedelta(minutes=2))
    assert actions(ev) == [("vehicle:v3", "updated")]
    assert (ev[0].case_id, ev[0].vehicle_id, ev[0].segment) == (7, "v3", 21)
    # The terminal goes quiet, the case is still open: the alert stays.
    s, ev = rule.step(s, [], frozenset({7}), T0 + timedelta(minutes=50))
    assert ev == []
    # The case closes: now nothing is left of the crash.
    s, ev = rule.step(s, [], frozenset(), T0 + timedelta(minutes=60))
    assert actions(ev) == [("vehicle:v3", "cleared")]
    assert s.open == {} and s.joined == {}


def test_a_case_elsewhere_is_an_alert_of_its_own() -> None:
    rule = AccidentRule(AccidentParams(match_radius_m=60))
    s, _ = rule.step(None, [report("vehicle:v4", 0, segment=30)], None, T0)
    far = AccidentReport("case:8", 40, T0 + timedelta(minutes=1), 117.89, 33.48, case_id=8)
    s, ev = rule.step(s, [far], frozenset({8}), T0 + timedelta(minutes=1))
    assert actions(ev) == [("case:8", "raised")]
