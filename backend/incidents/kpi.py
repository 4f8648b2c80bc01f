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

from backend.bounds import check_instant
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
# group_by -> (the key per case, the join it needs, the key shown, the name's join and column).
# Cases are aggregated first and named after, so a name costs one lookup per group, not per
# case. Fixed fragments, never input.
GROUPS: dict[str, tuple[str, str, str, str, str]] = {
    "department": ("i.department_code", "", "a.key",
                   "LEFT JOIN departments n ON n.code = a.key", "n.name"),
    "grid": ("i.grid_code", "", "a.key", "LEFT JOIN grid_cells n ON n.grid_code = a.key",
             "n.name"),
    "category": ("i.category_code", "", "a.key",
                 "LEFT JOIN case_categories n ON n.code = a.key", "n.name"),
    "township": ("g.township_code", "LEFT JOIN grid_cells g ON g.grid_code = i.grid_code",
                 "a.key", "LEFT JOIN (SELECT DISTINCT ON (township_code) township_code, "
                 "township_name FROM grid_cells ORDER BY township_code) n "
                 "ON n.township_code = a.key", "n.township_name"),
}
PERIODS = {  # the local day / ISO week (from Monday) / month a case was filed in, and its label
    "day": "YYYY-MM-DD",
    "week": "YYYY-MM-DD",
    "month": "YYYY-MM",
}

KPI_SQL = """
WITH a AS (
  SELECT {key} AS key, GROUPING({key}) = 1 AS is_total,
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
  FROM incidents i {key_join}
  WHERE i.filed_at >= :start AND i.filed_at < :end
  GROUP BY GROUPING SETS (({key}), ()))
SELECT {shown} AS key, {name} AS name, a.is_total, a.filed, a.dispatched, a.handled, a.closed,
  a.closed_on_time, a.reworked, a.extended, a.open, a.overdue, a.supervised
FROM a {name_join}
ORDER BY a.is_total, a.key NULLS LAST"""
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
    try:
        return check_instant(value)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}") from None


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
        key = f"date_trunc('{query.period}', i.filed_at AT TIME ZONE '{TIMEZONE}')"
        key_join, shown = "", f"to_char(a.key, '{PERIODS[query.period]}')"
        name_join, name = "", "NULL::text"
    else:
        key, key_join, shown, name_join, name = GROUPS[query.group_by]
    return KPI_SQL.format(key=key, key_join=key_join, shown=shown, name_join=name_join,
                          name=name)


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
