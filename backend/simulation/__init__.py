"""Scenario runner and simulated JT/T 808 terminals."""

from backend.simulation.plan import Fix, phone_for, plan
from backend.simulation.runner import RunReport, ScenarioRunError, load_lines, run_scenario

__all__ = ["Fix", "RunReport", "ScenarioRunError", "load_lines", "phone_for", "plan",
           "run_scenario"]
