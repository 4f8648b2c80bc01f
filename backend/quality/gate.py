"""The blocking gate of new versions (backend.datasets.store.Gate): the dataset's blocking
rules run over the version's whole content before it may become current.

Placeholder of the contracts commit: the quality slice replaces this file with the runner's
gate; until then no rule blocks."""

from __future__ import annotations

from typing import Any

from psycopg2.extensions import cursor as Cursor


def blocking_gate(cur: Cursor, dataset_id: str, relation: str) -> list[dict[str, Any]]:
    return []
