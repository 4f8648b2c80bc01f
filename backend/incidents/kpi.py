"""Case KPIs (综合评价): counts and the four rates per department, grid, category, township or
period, in one SQL query with FILTER aggregates (GROUPING SETS add the total row).

The window is a cohort by **filing time**: the cases filed (立案, `filed_at`) in [from, to), and
what has become of them by now. So 结案率 of last month is the share of last month's cases
that are closed today; reported cases that were never filed, and voided ones, do not count.

    结案率   closed_rate    = closed / filed
    按期结案率 on_time_rate  = closed on time / closed   (on time: every stage and the case)
    返工率   rework_rate    = reworked / handled         (reworked: sent back at least once)
    延期率   extension_rate = extended / dispatched      (extended: an extension granted)

A rate whose denominator is 0 is null. Periods are local days, ISO weeks (from Monday) or
months in Asia/Shanghai."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from backend.errors import InvalidInput

MAX_WINDOW = timedelta(days=366)
TIMEZONE = "Asia/Shanghai"
COUNTS = ("filed", "dispatched", "handled", "closed", "closed_on_time", "reworked", "extended",
          "open", "overdue", "supervised")
RATES = {  # name: (numerator, denominator)
    "closed_rate": ("closed", "filed"),
    "on_time_rate": ("closed_on_time", "closed"),
    "rework_rate": ("reworked", "handled"),
    "extension_rate": ("extended", "dispatched"),
}
# group_by -> (key expression, name expression, joins it needs); fixed fragments, never input.
GROUPS: dict[str, tuple[str, str, str]] = {
    "department": ("i.department_code", "min(d.name)",
                   "LEFT JOIN departments d ON d.code = i.department_code"),
    "grid": ("i.grid_code", "min(g.name)", "LEFT JOIN grid_cells g ON g.grid_code = i.grid_code"),
    "category": ("i.category_code", "min(c.name)",
                 "LEFT JOIN case_categories c ON c.code = i.category_code"),
    "township": ("g.township_code", "min(g.township_name)",
                 "LEFT JOIN grid_cells g ON g.grid_code = i.grid_code"),
}
PERIODS = {
    "day": f"to_char(date_trunc('day', i.filed_at AT TIME ZONE '{TIMEZONE}'), 'YYYY-MM-DD')",
    "week": f"to_char(date_trunc('week', i.filed_at AT TIME ZONE '{TIMEZONE}'), 'YYYY-MM-DD')",
    "month": f"to_char(date_trunc('month', i.filed_at AT TIME ZONE '{TIMEZONE}'), 'YYYY-MM')",
}

KPI_SQL = """
SELECT {key} AS key, {name} AS name, GROUPING({key}) = 1 AS is_total,
  count(*) AS filed,
  count(*) FILTER (WHERE i.dispatched_at IS NOT NULL) AS dispatched,
  count(*) FILTER (WHERE i.handled_at IS NOT NULL) AS handled,
  count(*) FILTER (WHERE i.state = 'closed') AS closed,
  count(*) FILTER (WHERE i.state = 'closed' AND i.on_time) AS closed_on_time,
  count(*) FILTER (WHERE i.rework_count > 0) AS reworked,
  count(*) FILTER (WHERE i.extension_count > 0) AS extended,
  count(*) FILTER (WHERE i.state NOT IN ('closed', 'voided')) AS open,
  count(*) FILTER (WHERE i.overdue) AS overdue,
  count(*) FILTER (WHERE i.supervised) AS supervised
FROM incidents i {joins}
WHERE i.filed_at >= :start AND i.filed_at < :end
GROUP BY GROUPING SETS (({key}), ())
ORDER BY is_total, key NULLS LAST"""


@dataclass(frozen=True)
class KpiQuery:
    start: datetime
    end: datetime
    group_by: str = "department"
    period: str = "day"


def _instant(name: str, raw: str | None) -> datetime:
    if not raw:
        raise InvalidInput(f"{name} is required: an ISO 8601 time with its offset, "
                           "e.g. 2026-11-01T00:00:00+08:00")
    text = raw.strip()
    if " " in text and "T" in text:  # a '+' sent unencoded in a query string became a space
        head, _, tail = text.rpartition(" ")
        text = f"{head}+{tail}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not an ISO 8601 time, e.g. "
                           "2026-11-01T00:00:00+08:00 (encode + as %2B)") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name}={raw!r} has no offset: add one, e.g. +08:00 or Z")
    return value


def parse_kpi(start: str | None, end: str | None, group_by: str | None,
              period: str | None) -> KpiQuery:
    begin, until = _instant("from", start), _instant("to", end)
    if until <= begin:
        raise InvalidInput("to must be after from")
    if until - begin > MAX_WINDOW:
        raise InvalidInput(f"The window is at most {MAX_WINDOW.days} days; "
                           f"got {(until - begin).days} days")
    group = group_by or "department"
    if group not in (*GROUPS, "period"):
        raise InvalidInput(f"group_by={group!r}: use one of {', '.join([*GROUPS, 'period'])}")
    every = period or "day"
    if every not in PERIODS:
        raise InvalidInput(f"period={every!r}: use one of {', '.join(PERIODS)}")
    return KpiQuery(begin, until, group, every)


def rates(counts: dict[str, int]) -> dict[str, float | None]:
    return {name: (round(counts[num] / counts[den], 4) if counts[den] else None)
            for name, (num, den) in RATES.items()}


def kpi_sql(query: KpiQuery) -> str:
    if query.group_by == "period":
        key, name, joins = PERIODS[query.period], "NULL::text", ""
    else:
        key, name, joins = GROUPS[query.group_by]
    return KPI_SQL.format(key=key, name=name, joins=joins)


def incident_kpis(conn: sa.Connection, query: KpiQuery) -> dict[str, Any]:
    rows = conn.execute(sa.text(kpi_sql(query)), {"start": query.start, "end": query.end})
    total: dict[str, Any] = {c: 0 for c in COUNTS}
    groups = []
    for row in rows.mappings():
        counts = {c: row[c] for c in COUNTS}
        out = {**counts, "rates": rates(counts)}
        if row["is_total"]:
            total = out
        else:
            groups.append({"key": row["key"], "name": row["name"], **out})
    if "rates" not in total:
        total["rates"] = rates(total)
    return {"from": query.start.isoformat(), "to": query.end.isoformat(), "window": "filed_at",
            "timezone": TIMEZONE, "group_by": query.group_by,
            "period": query.period if query.group_by == "period" else None,
            "total": total, "groups": groups}
