"""The changes feed (accepted versions after a seq) and subscriptions."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.datasets.store import Row, write_version
from tests.sharing.conftest import add_dataset, add_version

H = Callable[[str], dict[str, str]]


def test_the_changes_feed_lists_accepted_versions_after_since(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "GVA")
    add_version(engine, ds, [{"k": "a", "name": "一"}])
    add_version(engine, ds, [{"k": "a", "name": "一"}, {"k": "b", "name": "二"}])
    with engine.begin() as conn:  # a rejected version is no change
        write_version(conn, dataset_id=ds, arrival="push", actor="tester",
                      rows=[Row("c", {"k": "c"})], gate=lambda cur, d, rel: [{"rule": "x"}])
    add_version(engine, ds, [{"k": "b", "name": "贰"}])
    url = f"/api/datasets/{ds}/changes"
    body = anonymous.get(url, headers=headers("viewer")).json()
    assert [i["seq"] for i in body["items"]] == [1, 2, 3] and body["last_seq"] == 3
    assert [(i["rows_added"], i["rows_changed"], i["rows_removed"], i["rows_total"])
            for i in body["items"]] == [(1, 0, 0, 1), (1, 0, 0, 2), (0, 1, 1, 1)]
    assert body["items"][0]["arrival"] == "file" and body["items"][0]["at"]
    later = anonymous.get(f"{url}?since=2", headers=headers("viewer")).json()
    assert [i["seq"] for i in later["items"]] == [3]
    none = anonymous.get(f"{url}?since=3", headers=headers("viewer")).json()
    assert none == {"dataset_id": ds, "items": [], "last_seq": 3}
    assert anonymous.get(f"{url}?since=-1", headers=headers("viewer")).status_code == 422
    assert anonymous.get(f"{url}?since=99999999999",
                         headers=headers("viewer")).status_code == 422
    assert anonymous.get("/api/datasets/nope/changes",
                         headers=headers("viewer")).status_code == 404


def test_subscribe_list_and_unsubscribe(engine: sa.Engine, anonymous: TestClient,
                                        headers: H) -> None:
    ds = add_dataset(engine, "GVB")
    url = f"/api/datasets/{ds}/subscription"
    me = headers("grid_worker")
    first = anonymous.put(url, headers=me)
    assert first.status_code == 200, first.text
    assert first.json()["dataset_id"] == ds and first.json()["last_seq"] == 0
    assert anonymous.put(url, headers=me).json()["created_at"] == first.json()["created_at"]
    listed = anonymous.get("/api/subscriptions", headers=me).json()
    assert [s["dataset_id"] for s in listed] == [ds]
    assert anonymous.delete(url, headers=me).status_code == 204
    assert anonymous.get("/api/subscriptions", headers=me).json() == []
    assert anonymous.delete(url, headers=me).status_code == 204  # already gone: still fine
    assert anonymous.put("/api/datasets/nope/subscription", headers=me).status_code == 404
    with engine.connect() as conn:
        actions = conn.execute(sa.text(
            "SELECT array_agg(action ORDER BY id) FROM audit_log WHERE entity = 'dataset' "
            "AND entity_id = :d AND action LIKE 'data_subscription.%'"), {"d": ds}).scalar_one()
    assert actions == ["data_subscription.made", "data_subscription.ended"]
