"""Timeliness: the last update against the declared update cycle, in working time of the
county's calendar (backend.incidents.calendar.WorkCalendar). Pure: no database, no clock."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from backend.catalog.layers import CYCLE_ZH
from backend.quality.checks import Outcome, RuleRow, sample

if TYPE_CHECKING:
    from backend.incidents.calendar import WorkCalendar



def due_at(last: datetime, calendar: WorkCalendar, *, working_days: float | None,
           working_hours: float | None) -> datetime | None:
    """When the next update is due (None: never, for irregular cycles)."""
    if working_hours:
        return calendar.add_working(last, working_hours * 3600)
    if working_days:
        return calendar.add_working_days(last, working_days)
    return None


def timely(rule: RuleRow, last: datetime | None, calendar: WorkCalendar,
           now: datetime) -> Outcome:
    p = rule.params
    cycle = CYCLE_ZH.get(p["cycle"], p["cycle"])
    if last is None:
        return Outcome(rule, 0, 0, [], f"更新及时：尚无更新记录（{cycle}）")
    due = due_at(last, calendar, working_days=p.get("working_days"),
                 working_hours=p.get("working_hours"))
    allowed = (f"{p['working_hours']:g} 个工作小时" if p.get("working_hours") else
               f"{p['working_days']:g} 个工作日" if p.get("working_days") else "不限")
    if due is None:
        return Outcome(rule, 1, 0, [], f"更新及时：{cycle}更新，无时限")
    if now <= due:
        return Outcome(rule, 1, 0, [], f"更新及时：{cycle}（{allowed}），"
                                       f"最近更新 {last.isoformat()}，{due.isoformat()} 前应再更新")
    late = calendar.working_seconds(due, now) / calendar.working_day_s
    reason = f"应于 {due.isoformat()} 前更新，已逾期 {late:.1f} 个工作日"
    return Outcome(rule, 1, 1, [sample(None, last.isoformat(), reason)],
                   f"更新不及时：{cycle}（{allowed}），最近更新 {last.isoformat()}，"
                   f"已逾期 {late:.1f} 个工作日")
