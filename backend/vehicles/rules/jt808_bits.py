"""JT/T 808 terminal alarm bits: raised when a bit sets, cleared when it clears.

The bit table follows JT/T 808-2013 table 24 (2019 keeps the same meanings for these bits);
reserved bits (15-17) are ignored. To be reconciled with backend/ingest/jt808/alarms.py.
Kinds are prefixed where they would collide with a platform-computed rule ("terminal_overspeed"
is the terminal's own judgement; "overspeed" is ours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from backend.vehicles.position import Position
from backend.vehicles.rules.context import RuleContext
from backend.vehicles.rules.events import AlarmEvent, Severity, make_event


@dataclass(frozen=True, slots=True)
class AlarmBit:
    bit: int
    kind: str
    severity: Severity


ALARM_BITS: tuple[AlarmBit, ...] = (
    AlarmBit(0, "sos", "critical"),
    AlarmBit(1, "terminal_overspeed", "warning"),
    AlarmBit(2, "fatigue", "warning"),
    AlarmBit(3, "danger_warning", "warning"),
    AlarmBit(4, "gnss_fault", "info"),
    AlarmBit(5, "gnss_antenna_open", "info"),
    AlarmBit(6, "gnss_antenna_short", "info"),
    AlarmBit(7, "low_voltage", "info"),
    AlarmBit(8, "power_off", "warning"),
    AlarmBit(9, "display_fault", "info"),
    AlarmBit(10, "tts_fault", "info"),
    AlarmBit(11, "camera_fault", "info"),
    AlarmBit(12, "ic_card_fault", "info"),
    AlarmBit(13, "overspeed_warning", "info"),
    AlarmBit(14, "fatigue_warning", "info"),
    AlarmBit(18, "daily_driving_overtime", "warning"),
    AlarmBit(19, "parking_overtime", "info"),
    AlarmBit(20, "area_in_out", "info"),
    AlarmBit(21, "route_in_out", "info"),
    AlarmBit(22, "segment_time", "info"),
    AlarmBit(23, "route_deviation", "warning"),
    AlarmBit(24, "vss_fault", "info"),
    AlarmBit(25, "fuel_abnormal", "warning"),
    AlarmBit(26, "theft", "critical"),
    AlarmBit(27, "illegal_ignition", "critical"),
    AlarmBit(28, "illegal_displacement", "critical"),
    AlarmBit(29, "collision", "critical"),
    AlarmBit(30, "rollover", "critical"),
    AlarmBit(31, "illegal_door_open", "warning"),
)


@dataclass(frozen=True, slots=True)
class AlarmBitsParams:
    table: tuple[AlarmBit, ...] = ALARM_BITS


@dataclass(frozen=True, slots=True)
class AlarmBitsState:
    active: int = 0  # mask of the table's bits currently raised
    since: Mapping[int, datetime] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class AlarmBitsRule:
    params: AlarmBitsParams = AlarmBitsParams()
    name: str = "jt808_bits"

    def step(
        self, state: AlarmBitsState | None, position: Position, context: RuleContext
    ) -> tuple[AlarmBitsState, list[AlarmEvent]]:
        s = state or AlarmBitsState()
        flags = position.alarm_flags
        events: list[AlarmEvent] = []
        active = s.active
        since = dict(s.since)
        for b in self.params.table:  # table order = bit order: deterministic event order
            m = 1 << b.bit
            now, was = bool(flags & m), bool(s.active & m)
            if now and not was:
                active |= m
                since[b.bit] = position.time
                events.append(make_event(b.kind, "raised", position, b.severity, bit=b.bit))
            elif was and not now:
                active &= ~m
                started = since.pop(b.bit, position.time)
                events.append(
                    make_event(b.kind, "cleared", position, b.severity, started, bit=b.bit)
                )
        if not events:
            return s, []
        return AlarmBitsState(active, MappingProxyType(since)), events

    def step_late(
        self, state: AlarmBitsState | None, position: Position, context: RuleContext
    ) -> list[AlarmEvent]:
        """A backfilled fix: report bits it carries that are not live now, as instant events.

        An SOS pressed in a blind area must reach the console, but must not reopen an alarm
        the live stream has already moved past.
        """
        active = state.active if state else 0
        return [
            make_event(b.kind, "instant", position, b.severity, bit=b.bit, late=True)
            for b in self.params.table
            if position.alarm_flags & (1 << b.bit) and not active & (1 << b.bit)
        ]
