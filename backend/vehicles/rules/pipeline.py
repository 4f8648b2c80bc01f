"""The ordered rule pipeline (traccar-style): one vehicle's state + one fix -> state + events.

Out-of-order policy: a fix whose time is not after the last fix processed for the vehicle
(JT/T 808 0x0704 backfill, retransmissions) leaves the state untouched. Stateful rules (durations,
consecutive counts, enter/exit) skip it, since replaying the past would corrupt the present;
rules with a ``step_late`` (the terminal alarm bits) still report what the late fix carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

from backend.ingest.position import Position
from backend.vehicles.rules.context import RuleContext
from backend.vehicles.rules.events import AlarmEvent
from backend.vehicles.rules.geofence import GeofenceRule
from backend.vehicles.rules.jt808_bits import AlarmBitsRule
from backend.vehicles.rules.long_stop import LongStopRule
from backend.vehicles.rules.off_route import OffRouteRule
from backend.vehicles.rules.overspeed import OverspeedRule


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    def step(
        self, state: Any, position: Position, context: RuleContext
    ) -> tuple[Any, list[AlarmEvent]]: ...


# The one place the order lives; events of one fix come out in this order.
DEFAULT_RULES: tuple[Rule, ...] = (
    OverspeedRule(),
    OffRouteRule(),
    LongStopRule(),
    GeofenceRule(),
    AlarmBitsRule(),
)


@dataclass(frozen=True, slots=True)
class VehicleState:
    vehicle_id: str
    last_time: datetime | None = None       # newest fix processed; older ones are "late"
    rules: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


def run_rules(
    state: VehicleState | None,
    position: Position,
    context: RuleContext,
    rules: Sequence[Rule] = DEFAULT_RULES,
) -> tuple[VehicleState, list[AlarmEvent]]:
    """Apply ``rules`` in order to one fix of one vehicle. Pure: same inputs, same outputs."""
    if state is None:
        state = VehicleState(position.vehicle_id)
    elif state.vehicle_id != position.vehicle_id:
        raise ValueError(f"state of {state.vehicle_id!r} given a fix of {position.vehicle_id!r}")
    events: list[AlarmEvent] = []
    if state.last_time is not None and position.time <= state.last_time:
        for rule in rules:
            # Optional hook, not part of Rule: only instantaneous rules define step_late.
            late = getattr(rule, "step_late", None)
            if late is not None:
                events.extend(late(state.rules.get(rule.name), position, context))
        return state, events
    new_rules: dict[str, Any] = dict(state.rules)
    for rule in rules:
        new_rules[rule.name], produced = rule.step(state.rules.get(rule.name), position, context)
        events.extend(produced)
    return VehicleState(state.vehicle_id, position.time, MappingProxyType(new_rules)), events
