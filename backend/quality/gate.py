"""The blocking gate of new versions (backend.datasets.store.Gate): the dataset's blocking
rules run over the version's whole content (the store's temporary relation) before it may
become current. Any failing row of a blocking rule refuses the version; the store keeps it as
rejected with these failures in its report."""

from __future__ import annotations

from typing import Any

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from backend.quality.runner import evaluate, load_rules, resolver


def blocking_gate(cur: Cursor, dataset_id: str, relation: str) -> list[dict[str, Any]]:
    """[{rule, kind, failed, samples, message}] of the blocking rules that failed ([]: pass).
    Referenced datasets are read from their current versions; timeliness never blocks."""
    rules = [r for r in load_rules(cur, dataset_id, blocking_only=True) if r.kind != "timely"]
    if not rules:
        return []
    _, outcomes = evaluate(cur, rules, sql.Identifier(relation), resolve=resolver(cur, None))
    return [{"rule": o.rule.rule_key, "kind": o.rule.kind, "failed": o.failed,
             "samples": o.samples, "message": o.message} for o in outcomes if o.failed]
