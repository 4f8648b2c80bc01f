"""`cityops cameras report`: per camera what keeps the map from showing what it sees (no
heading, no field of view, no range, a view that could not be computed: camera_views.status
other than ok, e.g. a camera inside a building footprint), and counts by status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

# problem -> how a person fixes it (the report's text)
PROBLEMS = {
    "no_heading": "no heading (direction_deg): give heading_deg in the register",
    "no_fov": "no field of view: give fov_deg in the register",
    "no_range": "no range: give range_m in the register",
    "no_view": "no view computed yet",
}
VIEW_PROBLEM = "view {view_no}: {status}"

_ROWS = """
SELECT c.code, c.name, c.status, c.direction_deg IS NULL AS no_heading,
       c.fov_deg IS NULL AS no_fov, c.range_m IS NULL AS no_range,
       NOT EXISTS (SELECT 1 FROM camera_views v WHERE v.camera_id = c.id) AS no_view,
       (SELECT json_agg(json_build_object('view_no', v.view_no, 'status', v.status)
                        ORDER BY v.view_no)
        FROM camera_views v WHERE v.camera_id = c.id AND v.status <> 'ok') AS bad_views
FROM cameras c ORDER BY c.code
"""


@dataclass
class RegistryReport:
    cameras: int = 0
    by_status: dict[str, int] = field(default_factory=dict)       # online / offline / fault
    by_view_status: dict[str, int] = field(default_factory=dict)  # ok, inside_building, ...
    by_problem: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)  # {code, name, problems}

    def to_dict(self) -> dict[str, Any]:
        return {"cameras": self.cameras, "by_status": self.by_status,
                "by_view_status": self.by_view_status, "by_problem": self.by_problem,
                "problems": self.problems}

    def text(self, limit: int = 50) -> str:
        lines = [f"{self.cameras} cameras; status: " + _counts(self.by_status),
                 "views: " + (_counts(self.by_view_status) or "none computed"),
                 f"{len(self.problems)} cameras with problems" + (
                     ": " + _counts(self.by_problem) if self.by_problem else "")]
        for p in self.problems[:max(0, limit)]:
            lines.append(f"  {p['code']} {p['name'] or ''}: {'; '.join(p['problems'])}")
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more (--limit, --json)")
        return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def registry_report(engine: sa.Engine) -> RegistryReport:
    out = RegistryReport()
    with engine.connect() as conn:
        out.by_status = dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM cameras GROUP BY status")).all())
        out.by_view_status = dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM camera_views GROUP BY status")).all())
        rows = conn.execute(sa.text(_ROWS)).mappings().all()
    out.cameras = len(rows)
    for r in rows:
        found = [k for k in PROBLEMS if r[k]]
        texts = [PROBLEMS[k] for k in found]
        for v in r["bad_views"] or []:
            found.append(f"view_{v['status']}")
            texts.append(VIEW_PROBLEM.format(**v))
        for k in found:
            out.by_problem[k] = out.by_problem.get(k, 0) + 1
        if texts:
            out.problems.append({"code": r["code"], "name": r["name"], "status": r["status"],
                                 "problems": texts})
    return out
