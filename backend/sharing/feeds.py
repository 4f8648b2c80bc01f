"""Subscriptions (who wants change notices of a dataset) and the changes feed (the accepted
versions after a sequence number). The notices themselves go out on the data.updates hub
channel when a version arrives (backend.exchange publishes them)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.errors import NotFound

MAX_CHANGES = 500


def _dataset_exists(conn: sa.Connection, dataset_id: str) -> None:
    if conn.execute(sa.text("SELECT 1 FROM datasets WHERE id = :d"),
                    {"d": dataset_id}).first() is None:
        raise NotFound(f"no dataset {dataset_id!r}")


def changes(conn: sa.Connection, *, dataset_id: str, since: int = 0,
            limit: int = MAX_CHANGES) -> dict[str, Any]:
    """Accepted versions with seq > since, oldest first, at most 500; last_seq is the last one
    listed (or `since` when none), the value to ask with next."""
    _dataset_exists(conn, dataset_id)
    items = [dict(r._mapping) for r in conn.execute(sa.text(
        "SELECT id AS version_id, seq, created_at AS at, arrival, rows_added, rows_changed, "
        "rows_removed, rows_total FROM dataset_versions WHERE dataset_id = :d "
        "AND status = 'accepted' AND seq > :since ORDER BY seq LIMIT :limit"),
        {"d": dataset_id, "since": since, "limit": min(limit, MAX_CHANGES)})]
    return {"dataset_id": dataset_id, "items": items,
            "last_seq": items[-1]["seq"] if items else since}


def subscribe(conn: sa.Connection, *, dataset_id: str, username: str) -> dict[str, Any]:
    _dataset_exists(conn, dataset_id)
    made = conn.execute(sa.text(
        "INSERT INTO data_subscriptions (dataset_id, username) VALUES (:d, :u) "
        "ON CONFLICT DO NOTHING RETURNING created_at"), {"d": dataset_id, "u": username}).first()
    if made is not None:
        audit(conn, username, "data_subscription.made", "dataset", dataset_id, {})
    return _subscription(conn, dataset_id, username)


def unsubscribe(conn: sa.Connection, *, dataset_id: str, username: str) -> bool:
    _dataset_exists(conn, dataset_id)
    gone = conn.execute(sa.text(
        "DELETE FROM data_subscriptions WHERE dataset_id = :d AND username = :u RETURNING 1"),
        {"d": dataset_id, "u": username}).first() is not None
    if gone:
        audit(conn, username, "data_subscription.ended", "dataset", dataset_id, {})
    return gone


_SUBSCRIPTIONS = """
SELECT s.dataset_id, d.name AS dataset_name, d.department_code, s.created_at,
  d.latest_seq AS last_seq, d.last_updated_at
FROM data_subscriptions s JOIN datasets d ON d.id = s.dataset_id WHERE s.username = :u"""


def _subscription(conn: sa.Connection, dataset_id: str, username: str) -> dict[str, Any]:
    return dict(conn.execute(sa.text(_SUBSCRIPTIONS + " AND s.dataset_id = :d"),  # noqa: S608
                             {"u": username, "d": dataset_id}).one()._mapping)


def subscriptions(conn: sa.Connection, *, username: str) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(
        sa.text(_SUBSCRIPTIONS + " ORDER BY s.created_at, s.dataset_id"),  # noqa: S608
        {"u": username})]


def subscribers(conn: sa.Connection, dataset_id: str) -> list[str]:
    """Who is subscribed to a dataset (for whoever sends per-person notices)."""
    return list(conn.execute(sa.text("SELECT username FROM data_subscriptions "
                                     "WHERE dataset_id = :d ORDER BY username"),
                             {"d": dataset_id}).scalars())
