from __future__ import annotations

from backend.vehicles.rules import ALARM_BITS, AlarmBitsRule, RuleContext
from tests.vehicles.support import T0, drive, fix

RULE = AlarmBitsRule()
CTX = RuleContext()
SOS, FATIGUE, COLLISION, ROLLOVER = 1 << 0, 1 << 2, 1 << 29, 1 << 30


def flags(*fs: int) -> list:
    return [fix(i * 10, flags=f) for i, f in enumerate(fs)]


def test_table_matches_jt808_2013_positions() -> None:
    by_bit = {b.bit: b.code for b in ALARM_BITS}
    assert by_bit[0] == "sos" and by_bit[2] == "fatigue" and by_bit[29] == "collision"
    assert by_bit[30] == "rollover" and by_bit[23] == "route_deviation"
    assert not {15, 16, 17} & by_bit.keys()  # reserved
    assert len(set(by_bit.values())) == len(ALARM_BITS)


def test_raised_on_set_cleared_on_unset_not_repeated_while_held() -> None:
    events = drive(RULE, flags(0, SOS, SOS, SOS, 0, 0), CTX)
    assert events == [(10, "sos", "raised"), (40, "sos", "cleared")]


def test_several_bits_at_once_in_bit_order_with_severity() -> None:
    state, events = RULE.step(None, fix(0, flags=ROLLOVER | SOS | COLLISION), CTX)
    assert [(e.kind, e.severity, e.details["bit"]) for e in events] == [
        ("sos", "critical", 0), ("collision", "critical", 29), ("rollover", "critical", 30),
    ]
    state, events = RULE.step(state, fix(10, flags=SOS | FATIGUE), CTX)
    assert [(e.kind, e.action) for e in events] == [
        ("fatigue", "raised"), ("collision", "cleared"), ("rollover", "cleared"),
    ]
    assert events[1].started_at == T0


def test_reserved_bits_are_ignored() -> None:
    assert drive(RULE, flags(1 << 15, 1 << 16 | 1 << 17, 0), CTX) == []


def test_late_fix_reports_instant_event_only_for_bits_not_live() -> None:
    state, _ = RULE.step(None, fix(100, flags=FATIGUE), CTX)
    late = RULE.step_late(state, fix(50, flags=SOS | FATIGUE), CTX)
    assert [(e.kind, e.action, e.details["late"]) for e in late] == [("sos", "instant", True)]
