"""The quality answers: a dataset's latest run with one entry per enabled rule. Sample values
of personal fields (and keys, when the key field is personal) are shown in full to the data
steward of the dataset's own department, who must fix them; everyone else gets the masking
policy (backend.privacy.policy): the record view for personal:read roles, the list view
(masked at best) for the others. The data bureau (datasets:govern) gets the policy's bureau
column: masked, never in full (it judges other departments' data, it does not read it)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.auth.permissions import Permission, Principal
from backend.errors import Forbidden, NotFound
from backend.privacy.policy import Kind, Rule, View, apply, rule_for
from backend.quality.kinds import KINDS


def dataset_department(conn: sa.Connection, dataset_id: str) -> str:
    dept = conn.execute(sa.text("SELECT department_code FROM datasets WHERE id = :d"),
                        {"d": dataset_id}).scalar_one_or_none()
    if dept is None:
        raise NotFound(f"No dataset {dataset_id!r}: see GET /api/datasets for the catalog")
    return dept


def stewards(principal: Principal | None, department: str) -> bool:
    return (principal is not None and principal.may(Permission.DATASETS_STEWARD)
            and principal.department == department)


def check_may_run(principal: Principal | None, department: str) -> None:
    """Running the rules: the department's own steward or the data bureau."""
    if principal is not None and (principal.may(Permission.DATASETS_GOVERN)
                                  or stewards(principal, department)):
        return
    raise Forbidden(f"Only a data steward of {department} or the data bureau may run this "
                    "dataset's quality rules")


def _kinds(conn: sa.Connection, dataset_id: str) -> tuple[dict[str, Kind], str | None]:
    rows = conn.execute(sa.text("SELECT name, kind FROM dataset_fields WHERE dataset_id = :d "
                                "AND kind IS NOT NULL"), {"d": dataset_id}).all()
    key = conn.execute(sa.text("SELECT key_field FROM datasets WHERE id = :d"),
                       {"d": dataset_id}).scalar_one_or_none()
    kinds = {}
    for name, kind in rows:
        try:
            kinds[name] = Kind(kind)
        except ValueError:
            continue
    return kinds, key


def quality_view(conn: sa.Connection, dataset_id: str, principal: Principal | None
                 ) -> tuple[dict[str, Any], list[str]]:
    """(the answer, personal fields whose values it shows in full, for the audit)."""
    department = dataset_department(conn, dataset_id)
    run = conn.execute(sa.text(
        "SELECT id, version_id, trigger, started_at, finished_at, rows_checked FROM "
        "quality_runs WHERE dataset_id = :d ORDER BY started_at DESC, id DESC LIMIT 1"),
        {"d": dataset_id}).mappings().first()
    rows = conn.execute(sa.text(
        "SELECT q.id, q.rule_key, q.kind, q.dimension, q.blocking, q.params, r.checked, "
        "r.failed, r.samples, r.message FROM quality_rules q LEFT JOIN quality_results r "
        "ON r.rule_id = q.id AND r.run_id = :run WHERE q.dataset_id = :d AND q.enabled "
        "ORDER BY q.id"), {"d": dataset_id, "run": run["id"] if run else None}).mappings()
    own = stewards(principal, department)
    view = (View.RECORD if principal is not None and principal.may(Permission.PERSONAL_DATA)
            else View.LIST)
    roles = principal.roles if principal is not None else frozenset()
    kinds, key_field = _kinds(conn, dataset_id)
    shown: set[str] = set()
    rules = []
    for r in rows:
        field = r["params"].get("field")
        samples = [dict(s) for s in (r["samples"] or [])]
        for s in samples:
            for name, slot in ((key_field, "key"), (field, "value"), (field, "source_value")):
                kind = kinds.get(name) if name else None
                if kind is None or slot not in s or s[slot] in (None, ""):
                    continue
                rule = Rule.SHOWN if own else rule_for(kind, roles, view)
                if rule is Rule.SHOWN:
                    shown.add(name)  # type: ignore[arg-type]
                s[slot] = apply(kind, s[slot], rule)
        checked, failed = r["checked"] or 0, r["failed"] or 0
        rules.append({
            "id": r["id"], "rule_key": r["rule_key"], "kind": r["kind"],
            "name": KINDS[r["kind"]].name if r["kind"] in KINDS else r["kind"],
            "dimension": r["dimension"], "blocking": r["blocking"], "params": r["params"],
            "checked": checked, "failed": failed, "passed": failed == 0,
            "message": r["message"] if r["message"] is not None else "尚未检查",
            "samples": samples})
    answer = {"dataset_id": dataset_id, "run": dict(run) if run else None, "rules": rules}
    return answer, sorted(shown)


def rule_kinds() -> list[dict[str, Any]]:
    return [k.describe() for k in KINDS.values()]
