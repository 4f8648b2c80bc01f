"""The case queue at depth (issue 8, defect 15): its page is read in index order (no sort of
every case), the scopes of units and grid workers use indexes, the total is counted up to a
cap, pages are stable, and the server's pool opens no sessions beyond its fixed size."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.permissions import principal_for
from backend.incidents import queries
from tests.conftest import bearer

OPEN = ["reported", "filed", "dispatched", "accepted", "in_progress", "handled", "verifying",
        "returned", "parked"]
SEAT = (117.88003, 33.47922)


def plan(engine: sa.Engine, roles: list[str], user_id: int | None, **filters: object
         ) -> str:
    """EXPLAIN of the queue's page with sorts and sequential scans priced out: a plan that
    still sorts has no index that gives the queue's order."""
    who = principal_for(user_id, "t-queue", "t-queue", roles)
    with engine.begin() as conn:
        cond, params = queries.queue_where(conn, who, **filters)
        _, page = queries.queue_sql(cond)
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        conn.execute(sa.text("SET LOCAL enable_sort = off"))
        return "\n".join(conn.execute(sa.text("EXPLAIN " + page),
                                      {**params, "limit": 300, "offset": 0}).scalars())


@pytest.mark.parametrize("filters", [{}, {"states": OPEN}])
def test_a_dispatchers_page_is_read_in_index_order(engine: sa.Engine, filters: dict) -> None:
    text = plan(engine, ["dispatcher"], None, **filters)
    assert "idx_incidents_queue" in text, text
    assert "Sort" not in text.split("idx_incidents_queue")[0], text  # no sort above the scan


def test_unit_and_worker_scopes_reach_cases_through_indexes(engine: sa.Engine, users: dict
                                                            ) -> None:
    with engine.connect() as conn:
        uid = conn.execute(sa.text("SELECT id FROM users WHERE username = 'grid_worker'")
                           ).scalar_one()
    # A grid worker's scope (reported by, assigned to or verifying): each a separate index,
    # or every case is read to find theirs.
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        cond, params = queries.queue_where(conn, principal_for(uid, "t", "t", ["grid_worker"]))
        count, _ = queries.queue_sql(cond)
        counted = "\n".join(conn.execute(sa.text("EXPLAIN " + count),
                                         {**params, "cap": 10}).scalars())
    for index in ("idx_incidents_reporter_id", "idx_incidents_assignee_id",
                  "idx_incidents_verifier_id"):
        assert index in counted, counted


@pytest.fixture(scope="module")
def cases(client: TestClient, engine: sa.Engine) -> Iterator[list[int]]:
    made = []
    for urgency in ("normal", "urgent", "normal", "normal", "urgent"):
        r = client.post("/api/incidents", json={
            "category_code": "E0101", "description": "queue test", "lon": SEAT[0],
            "lat": SEAT[1], "urgency": urgency})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    yield made


def test_pages_are_stable_and_the_total_is_capped(
    client: TestClient, engine: sa.Engine, cases: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = client.get("/api/incidents", params={"limit": 500})
    assert whole.status_code == 200 and whole.headers["cache-control"].startswith("private")
    body = whole.json()
    assert body["total_exact"] and body["total"] == len(body["incidents"])
    ids = [c["id"] for c in body["incidents"]]
    paged = []
    for offset in range(0, len(ids), 2):
        page = client.get("/api/incidents", params={"limit": 2, "offset": offset}).json()
        paged += [c["id"] for c in page["incidents"]]
    assert paged == ids and set(cases) <= set(ids)
    urgent = [c["urgency"] == "urgent" for c in body["incidents"]
              if c["state"] not in ("closed", "voided")]
    assert urgent == sorted(urgent, reverse=True)  # urgent open cases first

    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    capped = client.get("/api/incidents", params={"limit": 1}).json()
    assert capped["total"] == 3 and capped["total_exact"] is False


def test_the_pool_opens_no_sessions_beyond_its_size_under_a_burst(
    app, client: TestClient, cases: list[int]  # noqa: ANN001
) -> None:
    """40 requests at once (FastAPI's thread count): with an overflow, connections beyond
    the pool were opened and closed again on every burst (73 per 1,121 reads in issue 8)."""
    engine = app.state.resources.engine
    size = app.state.resources.settings.db_pool_size
    opened: list[int] = []

    def count(*_: object) -> None:
        opened.append(1)

    sa.event.listen(engine, "connect", count)
    headers = bearer(client, "dispatcher")
    start = threading.Barrier(40)
    statuses: list[int] = []

    def one() -> None:
        start.wait()
        for _ in range(3):
            statuses.append(client.get("/api/incidents", params={"limit": 50},
                                       headers=headers).status_code)

    try:
        threads = [threading.Thread(target=one) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sa.event.remove(engine, "connect", count)
    assert statuses == [200] * 120
    assert engine.pool.checkedout() == 0
    assert engine.pool.size() == size and len(opened) <= size, (len(opened), size)
