"""Vehicle alarm rules: pure, ordered processors (no DB, no asyncio, no clock but the fix's)."""

from backend.vehicles.rules.context import Geofence, LineGeometry, RuleContext, project
from backend.vehicles.rules.events import AlarmAction, AlarmEvent, Severity
from backend.vehicles.rules.geofence import GeofenceParams, GeofenceRule
from backend.vehicles.rules.jt808_bits import ALARM_BITS, AlarmBit, AlarmBitsParams, AlarmBitsRule
from backend.vehicles.rules.long_stop import LongStopParams, LongStopRule
from backend.vehicles.rules.off_route import OffRouteParams, OffRouteRule
from backend.vehicles.rules.overspeed import OverspeedParams, OverspeedRule
from backend.vehicles.rules.pipeline import DEFAULT_RULES, Rule, VehicleState, run_rules

__all__ = [
    "ALARM_BITS",
    "DEFAULT_RULES",
    "AlarmAction",
    "AlarmBit",
    "AlarmBitsParams",
    "AlarmBitsRule",
    "AlarmEvent",
    "Geofence",
    "GeofenceParams",
    "GeofenceRule",
    "LineGeometry",
    "LongStopParams",
    "LongStopRule",
    "OffRouteParams",
    "OffRouteRule",
    "OverspeedParams",
    "OverspeedRule",
    "Rule",
    "RuleContext",
    "Severity",
    "VehicleState",
    "project",
    "run_rules",
]
