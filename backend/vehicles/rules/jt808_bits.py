"""JT/T 808 terminal alarm bits: raised when a bit sets, cleared when it clears.

The bit table is backend.ingest.jt808.alarm_bits (shared with the JT/T 808 codec); reserved bits
(15-17) are not in it and are ignored here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from backend.ingest.jt808.alarm_bits import ALARM_BITS, AlarmBit
from backend.ingest.position import Position
from backend.vehicles.rules.context import RuleContext
from backend.vehicles.rules.events import AlarmEvent, make_event


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
        if not flags and not s.active:
            return s, []  # the usual fix: nothing set, nothing to clear
        events: list[AlarmEvent] = []
        active = s.active
        since = dict(s.since)
        for b in self.params.table:  # table order = bit order: deterministic event order
            m = 1 << b.bit
            now, was = bool(flags & m), bool(s.active & m)
            if now and not was:
                active |= m
                since[b.bit] = position.time
                events.append(make_event(b.code, "raised", position, b.severity, bit=b.bit))
            elif was and not now:
                active &= ~m
                started = since.pop(b.bit, position.time)
                events.append(
                    make_event(b.code, "cleared", position, b.severity, started, bit=b.bit)
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
            make_event(b.code, "instant", position, b.severity, bit=b.bit, late=True)
            for b in self.params.table
            if position.alarm_flags & (1 << b.bit) and not active & (1 << b.bit)
        ]
