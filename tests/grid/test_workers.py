"""Grid workers through the real app and PostGIS: positions from the phone (validated, newest
kept), the dispatchers' list with grids and last positions, assigning workers to a cell
(audited), the demo assignment, and the /report page's address."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.users import create_user
from backend.grid.assign import DEMO_TOWNSHIP, assign_demo_grid_workers
from tests.conftest import bearer

SEAT = (117.88003, 33.47922)
TAG = "t-gridw"


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture(scope="module")
def people(client: TestClient, engine: sa.Engine) -> Iterator[dict[str, dict[str, str]]]:
    """Two grid workers of this module (a and b), a handler, and the usual roles."""
    names = {"a": ["grid_worker"], "b": ["grid_worker"], "h": ["department_handler"]}
    with engine.begin() as conn:
        for key, roles in names.items():
            create_user(conn, f"{TAG}-{key}", f"{TAG[::-1]}-{key}-password", roles,
                        display_name=f"网格员 {key}", phone="13912345678")
    out = {key: login(client, f"{TAG}-{key}", f"{TAG[::-1]}-{key}-password") for key in names}
    for role in ("dispatcher", "viewer", "grid_worker", "admin"):
        out[role] = bearer(client, role)
    yield out
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE username LIKE :t"), {"t": f"{TAG}-%"})


def workers(client: TestClient, who: dict[str, str], **params: str) -> dict[str, dict]:
    response = client.get("/api/grid/workers", params=params, headers=who)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("private")
    return {w["username"]: w for w in response.json()["workers"]}


def test_positions_are_validated_and_the_newest_kept(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    a = people["a"]
    now = datetime.now(UTC)
    sent = client.post("/api/me/position", headers=a, json={
        "lon": SEAT[0], "lat": SEAT[1], "accuracy_m": 12.5,
        "time": (now - timedelta(seconds=5)).isoformat()})
    assert sent.status_code == 200 and sent.json()["stored"] is True
    older = client.post("/api/me/position", headers=a, json={
        "lon": SEAT[0] + 0.01, "lat": SEAT[1], "time": (now - timedelta(hours=1)).isoformat()})
    assert older.status_code == 200 and older.json()["stored"] is False
    seen = workers(client, people["dispatcher"])[f"{TAG}-a"]["position"]
    assert (seen["lon"], seen["lat"], seen["accuracy_m"]) == (SEAT[0], SEAT[1], 12.5)
    assert 0 <= seen["age_s"] < 600

    future = client.post("/api/me/position", headers=a, json={
        "lon": SEAT[0], "lat": SEAT[1], "time": (now + timedelta(hours=1)).isoformat()})
    assert future.status_code == 400 and "future" in future.json()["detail"]
    beijing = client.post("/api/me/position", headers=a, json={"lon": 116.39, "lat": 39.9})
    assert beijing.status_code == 400 and "outside the county" in beijing.json()["detail"]
    swapped = client.post("/api/me/position", headers=a, json={"lon": SEAT[1], "lat": SEAT[0]})
    assert swapped.status_code == 422  # a latitude of 117
    naive = client.post("/api/me/position", headers=a, json={
        "lon": SEAT[0], "lat": SEAT[1], "time": "2026-01-01T08:00:00"})
    assert naive.status_code == 422  # a time needs its offset
    assert client.post("/api/me/position", headers=people["viewer"],
                       json={"lon": SEAT[0], "lat": SEAT[1]}).status_code == 403
    # Without a time the server's clock stamps it; the handler (a field worker) may send too.
    now_sent = client.post("/api/me/position", headers=people["h"],
                           json={"lon": SEAT[0], "lat": SEAT[1]})
    assert now_sent.status_code == 200 and now_sent.json()["stored"] is True


def test_dispatchers_list_workers_with_grids_and_positions(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    client.post("/api/me/position", headers=people["b"], json={"lon": 117.60, "lat": 33.60})
    listed = workers(client, people["dispatcher"])
    assert {f"{TAG}-a", f"{TAG}-b", "grid_worker"} <= set(listed)
    assert f"{TAG}-h" not in listed  # handlers are not grid workers
    assert listed[f"{TAG}-b"]["phone"] == "139****5678"  # a list never shows phones in full
    near_seat = workers(client, people["dispatcher"],
                        bbox=f"{SEAT[0] - 0.01},{SEAT[1] - 0.01},{SEAT[0] + 0.01},"
                             f"{SEAT[1] + 0.01}")
    assert f"{TAG}-a" in near_seat and f"{TAG}-b" not in near_seat
    assert all(w["position"] is not None for w in near_seat.values())
    bad = client.get("/api/grid/workers", params={"bbox": "1,2,3"}, headers=people["dispatcher"])
    assert bad.status_code == 400
    # Issue 8, defect 8: grid workers and unit handlers were answered too; the list is for
    # the dispatch roles (README: dispatchers), by the workers:read right.
    for who in ("grid_worker", "h", "viewer"):
        refused = client.get("/api/grid/workers", headers=people[who])
        assert refused.status_code == 403 and "workers:read" in refused.json()["detail"]


def test_assigning_workers_to_a_cell_is_audited(
    client: TestClient, people: dict[str, dict[str, str]], engine: sa.Engine
) -> None:
    with engine.connect() as conn:
        cell = conn.execute(sa.text(
            "SELECT grid_code FROM grid_cells ORDER BY grid_code DESC LIMIT 1")).scalar_one()
    url = f"/api/grid/cells/{cell}/workers"
    put = client.put(url, json={"usernames": [f"{TAG}-a", f"{TAG}-b"]}, headers=people["admin"])
    assert put.status_code == 200, put.text
    assert put.json()["workers"] == [f"{TAG}-a", f"{TAG}-b"]
    listed = workers(client, people["dispatcher"])
    assert [g["grid_code"] for g in listed[f"{TAG}-a"]["grids"]] == [cell]
    assert listed[f"{TAG}-a"]["grids"][0]["township_name"]

    again = client.put(url, json={"usernames": [f"{TAG}-b"]}, headers=people["admin"]).json()
    assert again["added"] == [] and again["removed"] == [f"{TAG}-a"]
    assert workers(client, people["dispatcher"])[f"{TAG}-a"]["grids"] == []
    with engine.connect() as conn:
        audited = conn.execute(sa.text(
            "SELECT actor, data FROM audit_log WHERE action = 'grid.assign_workers' "
            "AND entity_id = :c ORDER BY id"), {"c": cell}).all()
    assert [r.actor for r in audited[-2:]] == ["admin", "admin"]
    assert audited[-1].data["removed"] == [f"{TAG}-a"]

    not_worker = client.put(url, json={"usernames": [f"{TAG}-h"]}, headers=people["admin"])
    assert not_worker.status_code == 400 and "grid_worker" in not_worker.json()["detail"]
    nobody = client.put(url, json={"usernames": ["no-such-user"]}, headers=people["admin"])
    assert nobody.status_code == 400 and "no-such-user" in nobody.json()["detail"]
    assert client.put("/api/grid/cells/341324999999999/workers", json={"usernames": []},
                      headers=people["admin"]).status_code == 404
    assert client.put(url, json={"usernames": []},
                      headers=people["dispatcher"]).status_code == 403
    client.put(url, json={"usernames": []}, headers=people["admin"])


def test_the_demo_worker_gets_the_township_cells(engine: sa.Engine, county: dict) -> None:
    with engine.begin() as conn:
        existed = conn.execute(sa.text("SELECT 1 FROM users WHERE username = 'grid01'")).first()
        if not existed:
            create_user(conn, "grid01", "10dirg-test-password", ["grid_worker"])
    try:
        with engine.begin() as conn:
            cells = set(conn.execute(sa.text(
                "SELECT grid_code FROM grid_cells WHERE township_name = :t"),
                {"t": DEMO_TOWNSHIP}).scalars())
            assert cells
            assert assign_demo_grid_workers(conn) == len(cells)
        with engine.begin() as conn:
            assert assign_demo_grid_workers(conn) == 0  # a second run changes nothing
            mine = set(conn.execute(sa.text(
                "SELECT gw.grid_code FROM grid_workers gw JOIN users u ON u.id = gw.user_id "
                "WHERE u.username = 'grid01'")).scalars())
            assert mine == cells
            audited = conn.execute(sa.text(
                "SELECT data FROM audit_log WHERE action = 'grid.assign_workers' "
                "AND entity_id = 'grid01' ORDER BY id DESC LIMIT 1")).scalar_one()
            assert audited == {"township": DEMO_TOWNSHIP, "cells_added": len(cells)}
            assert assign_demo_grid_workers(conn, username="nobody-here") == 0
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM grid_workers WHERE user_id = "
                                 "(SELECT id FROM users WHERE username = 'grid01')"))
            if not existed:
                conn.execute(sa.text("DELETE FROM users WHERE username = 'grid01'"))


def test_report_page_address(anonymous: TestClient) -> None:
    moved = anonymous.get("/report", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == "report.html"
