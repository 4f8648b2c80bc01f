"""The governance pages' answers: the department ranking, the bureau's overview, one
department's page, overdue updates. Read-only; scores come from backend.quality.scores (stored
days), tasks from backend.quality.tasks, requests from backend.sharing.service."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from backend.auth.permissions import Permission, Principal, Role
from backend.catalog.quality_weights import DIMENSIONS, QualityWeights
from backend.datasets.search import Filters, search
from backend.errors import Forbidden, NotFound
from backend.quality import scores, tasks
from backend.sharing import service


def dataset_summaries(conn: sa.Connection, department: str) -> list[dict[str, Any]]:
    """DatasetSummary of a department's datasets: the catalog's own answer."""
    return search(conn, Filters(department=department), limit=1000, max_limit=1000)[1]


_CYCLED = sa.text(
    "SELECT d.id, d.name, d.department_code, d.update_cycle, d.last_updated_at, d.created_at "
    "FROM datasets d WHERE d.update_cycle <> 'irregular' "
    "AND (CAST(:dept AS text) IS NULL OR d.department_code = :dept)")


def overdue_updates(conn: sa.Connection, weights: QualityWeights, *,
                    department: str | None = None,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    """Datasets whose update cycle has run out (never collected: due since catalogued),
    longest overdue first. Irregular cycles are never overdue."""
    now = now or datetime.now(UTC)
    out = []
    for r in conn.execute(_CYCLED, {"dept": department}):
        since = scores.overdue_since(r.update_cycle, r.last_updated_at, weights)
        if since is None or since > now:
            continue
        due = r.created_at if r.last_updated_at is None else since
        out.append({"dataset_id": r.id, "name": r.name, "department_code": r.department_code,
                    "due_since": due, "update_cycle": r.update_cycle})
    out.sort(key=lambda o: (o["due_since"], o["dataset_id"]))
    return out


def _open_request_counts(conn: sa.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute(sa.text(
        "SELECT d.department_code, count(*) FROM data_requests r JOIN datasets d "
        "ON d.id = r.dataset_id WHERE r.status IN ('bureau_review', 'provider_review') "
        "GROUP BY d.department_code"))}


def ranking(conn: sa.Connection, weights: QualityWeights) -> list[dict[str, Any]]:
    """Every department that has datasets, by the latest stored rank (unscored ones last)."""
    latest = scores.latest_department_scores(conn)
    overdue = Counter(o["department_code"] for o in overdue_updates(conn, weights))
    open_tasks = tasks.open_task_counts(conn)
    open_requests = _open_request_counts(conn)
    out = []
    for r in conn.execute(sa.text(
            "SELECT dep.code, dep.name, count(d.id) AS n FROM departments dep JOIN datasets d "
            "ON d.department_code = dep.code GROUP BY dep.code, dep.name")):
        score = latest.get(r.code, {})
        out.append({"code": r.code, "name": r.name, "rank": score.get("rank"),
                    "total": score.get("total"),
                    **{d: score.get(d) for d in DIMENSIONS}, "datasets": r.n,
                    "overdue_updates": overdue[r.code], "open_tasks": open_tasks.get(r.code, 0),
                    "open_requests": open_requests.get(r.code, 0)})
    out.sort(key=lambda o: (o["rank"] is None, o["rank"] or 0, o["code"]))
    return out


def overview(conn: sa.Connection, weights: QualityWeights) -> dict[str, Any]:
    counts = conn.execute(sa.text(
        "SELECT count(DISTINCT department_code) AS departments, count(*) AS datasets, "
        "count(*) FILTER (WHERE current_version_id IS NOT NULL OR storage = 'layer') "
        "AS with_data FROM datasets")).one()
    latest = scores.latest_department_scores(conn)
    totals = [s["total"] for s in latest.values() if s.get("total") is not None]
    return {"departments": counts.departments, "datasets": counts.datasets,
            "with_data": counts.with_data,
            "average": round(sum(totals) / len(totals), 1) if totals else None,
            "overdue_updates": overdue_updates(conn, weights),
            "open_requests": service.open_requests(conn),
            "overdue_requests": service.open_requests(conn, overdue_only=True),
            "open_tasks": sum(tasks.open_task_counts(conn).values())}


def may_see_department(principal: Principal, code: str) -> bool:
    return (Role.ADMIN in principal.roles or principal.may(Permission.DATASETS_GOVERN)
            or (principal.may(Permission.DATASETS_STEWARD) and principal.department == code))


def department(conn: sa.Connection, code: str, principal: Principal,
               weights: QualityWeights) -> dict[str, Any]:
    """One department's page: its steward's or the bureau's."""
    name = conn.execute(sa.text("SELECT name FROM departments WHERE code = :c"),
                        {"c": code}).scalar()
    if name is None:
        raise NotFound(f"no department {code!r}")
    if not may_see_department(principal, code):
        raise Forbidden(f"the page of department {code} is for its data steward and the data "
                        "bureau")
    score = scores.latest_department_scores(conn).get(code)
    return {"code": code, "name": name,
            "score": None if score is None else {k: score[k] for k in
                                                 ("day", *DIMENSIONS, "total")},
            "rank": None if score is None else score["rank"],
            "datasets": dataset_summaries(conn, code),
            "tasks": tasks.list_tasks(conn, department=code, status="open"),
            "requests_to_answer": service.open_requests(conn, department=code),
            "overdue_updates": overdue_updates(conn, weights, department=code)}
