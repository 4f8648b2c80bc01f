"""Quality tasks: each failing rule of a dataset's latest run is a task for the providing
department, due N working days after it opened (N by the rule's dimension, quality_weights.yaml;
the county's work calendar, one working day = its daily office hours). A later run updates the
failing count of the open task; a rule that passes again closes it (fixed, by 'system'). The
steward may close a task (fixed or dismissed, with a note). Every change is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Permission, Principal, Role
from backend.catalog.quality_weights import QualityWeights
from backend.errors import Conflict, Forbidden, NotFound, Unprocessable
from backend.incidents.calendar import WorkCalendar

CLOSING = ("fixed", "dismissed")


_LATEST_RESULTS = sa.text("""
SELECT r.id AS rule_id, r.rule_key, r.dimension, res.checked, res.failed, d.department_code
FROM quality_results res JOIN quality_rules r ON r.id = res.rule_id
JOIN quality_runs q ON q.id = res.run_id JOIN datasets d ON d.id = q.dataset_id
WHERE res.run_id = :run""")


def sync_run(conn: sa.Connection, run_id: int, calendar: WorkCalendar,
             weights: QualityWeights, now: datetime | None = None) -> dict[str, int]:
    """Open, update and close the tasks of one finished run's dataset, in the caller's
    transaction. Call it after each quality run (the latest run of its dataset)."""
    now = now or datetime.now(UTC)
    dataset_id = conn.execute(sa.text("SELECT dataset_id FROM quality_runs WHERE id = :r"),
                              {"r": run_id}).scalar()
    if dataset_id is None:
        raise NotFound(f"no quality run {run_id}")
    opened = updated = closed = 0
    for row in conn.execute(_LATEST_RESULTS, {"run": run_id}).all():
        task = conn.execute(sa.text(
            "SELECT id, failed FROM quality_tasks WHERE dataset_id = :d AND rule_id = :r "
            "AND status = 'open' FOR UPDATE"), {"d": dataset_id, "r": row.rule_id}).first()
        if row.failed > 0 and task is None:
            due = calendar.add_working_days(now, weights.task_working_days(row.dimension))
            conn.execute(sa.text(
                "INSERT INTO quality_tasks (dataset_id, rule_id, department_code, failed, "
                "opened_at, due_at) VALUES (:d, :r, :dept, :f, :now, :due)"),
                {"d": dataset_id, "r": row.rule_id, "dept": row.department_code,
                 "f": row.failed, "now": now, "due": due})
            opened += 1
        elif row.failed > 0 and task.failed != row.failed:
            conn.execute(sa.text("UPDATE quality_tasks SET failed = :f WHERE id = :id"),
                         {"f": row.failed, "id": task.id})
            updated += 1
        elif row.failed == 0 and task is not None:
            conn.execute(sa.text(
                "UPDATE quality_tasks SET status = 'fixed', closed_at = :now, "
                "closed_by = 'system', note = 'the rule passes again' WHERE id = :id"),
                {"now": now, "id": task.id})
            closed += 1
    counts = {"opened": opened, "updated": updated, "closed": closed}
    if opened or updated or closed:
        audit(conn, None, "quality.tasks", "dataset", dataset_id, {"run_id": run_id, **counts})
    return counts


_TASKS = """
SELECT t.id, t.dataset_id, d.name AS dataset_name, r.rule_key, r.kind, t.department_code,
  t.status, t.failed, t.opened_at, t.due_at, t.closed_at, t.note,
  (t.status = 'open' AND t.due_at < now()) AS overdue
FROM quality_tasks t JOIN datasets d ON d.id = t.dataset_id
JOIN quality_rules r ON r.id = t.rule_id"""


def _task(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def list_tasks(conn: sa.Connection, *, department: str | None = None,
               status: str | None = "open", dataset_id: str | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
    """Tasks, most urgent first (open ones by due time, then the latest closed)."""
    where, params = [], {"limit": limit}
    if department:
        where.append("t.department_code = :dept")
        params["dept"] = department
    if status:
        where.append("t.status = :status")
        params["status"] = status
    if dataset_id:
        where.append("t.dataset_id = :ds")
        params["ds"] = dataset_id
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    query = sa.text(_TASKS + clause +  # noqa: S608 (constant parts; values bound)
                    " ORDER BY t.status <> 'open', t.due_at, t.id LIMIT :limit")
    return [_task(r) for r in conn.execute(query, params)]


def open_task_counts(conn: sa.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute(sa.text(
        "SELECT department_code, count(*) FROM quality_tasks WHERE status = 'open' "
        "GROUP BY department_code"))}


def close_task(conn: sa.Connection, *, task_id: int, status: str, note: str | None,
               principal: Principal) -> dict[str, Any]:
    """The steward of the task's department (or an admin) marks it fixed or dismissed."""
    if status not in CLOSING:
        raise Unprocessable("status must be fixed or dismissed")
    row = conn.execute(sa.text("SELECT department_code, status FROM quality_tasks "
                               "WHERE id = :id FOR UPDATE"), {"id": task_id}).first()
    if row is None:
        raise NotFound(f"no quality task {task_id}")
    if Role.ADMIN not in principal.roles and not (
            principal.may(Permission.DATASETS_STEWARD)
            and principal.department == row.department_code):
        raise Forbidden(f"task {task_id} belongs to department {row.department_code}: only its "
                        "data steward may close it")
    if row.status != "open":
        raise Conflict(f"task {task_id} is already {row.status}")
    if status == "dismissed" and not (note or "").strip():
        raise Unprocessable("a dismissed task needs a note saying why (note)")
    conn.execute(sa.text("UPDATE quality_tasks SET status = :s, note = :n, closed_at = now(), "
                         "closed_by = :by WHERE id = :id"),
                 {"s": status, "n": note, "by": principal.username, "id": task_id})
    audit(conn, principal.username, f"quality.task.{status}", "quality_task", task_id,
          {"note": note})
    return _task(conn.execute(sa.text(_TASKS + " WHERE t.id = :id"),  # noqa: S608
                              {"id": task_id}).one())


def after_run(engine: sa.Engine, run_id: int, calendar: WorkCalendar,
              weights: QualityWeights) -> dict[str, int]:
    """What follows a finished quality run (the runner calls it): its dataset's tasks, then
    today's scores of every dataset and department. Blocking."""
    from backend.quality.scores import score_all

    with engine.begin() as conn:
        counts = sync_run(conn, run_id, calendar, weights)
    score_all(engine, weights=weights)
    return counts
