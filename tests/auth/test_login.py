"""Login sessions, user administration and layer roles on the real app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.permissions import SESSION_COOKIE
from backend.demo import DEMO_USERS, seed_demo_users
from tests.conftest import bearer, password_of

TILE = "14/13632/6591"  # the county seat at z14


@pytest.fixture()
def fresh(app, client: TestClient) -> Iterator[TestClient]:  # noqa: ANN001
    """A cookie-keeping client of the running app with no credentials yet."""
    yield TestClient(app)


def test_login_sets_a_strict_http_only_cookie_and_me_answers(fresh: TestClient) -> None:
    response = fresh.post("/api/auth/login", json={"username": "dispatcher",
                                                   "password": password_of("dispatcher")})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["roles"] == ["dispatcher"] and "alarms:handle" in body["user"][
        "permissions"]
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert response.headers["cache-control"] == "no-store"
    me = fresh.get("/api/auth/me")  # the cookie alone
    assert me.status_code == 200 and me.json()["user"]["username"] == "dispatcher"
    assert fresh.post("/api/auth/logout").status_code == 204
    assert fresh.get("/api/auth/me").status_code == 401
    # The token from before the logout is dead too.
    gone = fresh.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert gone.status_code == 401 and "log in again" in gone.json()["detail"]


def test_wrong_passwords_are_refused_then_throttled(fresh: TestClient,
                                                    engine: sa.Engine) -> None:
    def clear() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM login_failures WHERE username = 'viewer'"))

    clear()
    try:
        for _ in range(5):
            bad = fresh.post("/api/auth/login", json={"username": "viewer", "password": "nope"})
            assert bad.status_code == 401 and "Wrong user name or password" in bad.json()[
                "detail"]
        locked = fresh.post("/api/auth/login", json={"username": "viewer",
                                                     "password": password_of("viewer")})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    finally:
        clear()
    unknown = fresh.post("/api/auth/login", json={"username": "nobody", "password": "x" * 12})
    assert unknown.status_code == 401
    assert fresh.post("/api/auth/login", json={"username": "viewer"}).status_code == 422


def test_admin_manages_users_and_a_password_change_ends_sessions(
    client: TestClient, fresh: TestClient, engine: sa.Engine
) -> None:
    try:
        made = client.post("/api/users", json={"username": "t-ops", "password": "long-enough-1",
                                               "roles": ["viewer"], "display_name": "值班"})
        assert made.status_code == 201
        again = client.post("/api/users", json={"username": "t-ops", "password": "long-enough-1",
                                                "roles": ["viewer"]})
        assert again.status_code == 409
        bad_role = client.post("/api/users", json={"username": "t-x", "password": "long-enough-1",
                                                   "roles": ["mayor"]})
        assert bad_role.status_code == 400 and "dispatcher" in bad_role.json()["detail"]
        short = client.post("/api/users", json={"username": "t-y", "password": "short",
                                                "roles": ["viewer"]})
        assert short.status_code == 422
        token = fresh.post("/api/auth/login", json={"username": "t-ops",
                                                    "password": "long-enough-1"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert fresh.get("/api/auth/me", headers=auth).status_code == 200
        assert fresh.get("/api/users", headers=auth).status_code == 403
        changed = client.patch("/api/users/t-ops", json={"password": "another-long-1"})
        assert changed.status_code == 200
        assert fresh.get("/api/auth/me", headers=auth).status_code == 401
        assert client.patch("/api/users/nobody", json={"active": False}).status_code == 404
        listed = {u["username"] for u in client.get("/api/users").json()["users"]}
        assert {"t-ops", "admin", "dispatcher"} <= listed
        with engine.connect() as conn:
            audited = conn.execute(sa.text(
                "SELECT actor, action, data FROM audit_log WHERE entity = 'user' "
                "AND entity_id = 't-ops' ORDER BY id")).all()
        assert [(a, b) for a, b, _ in audited] == [("admin", "user.create"),
                                                   ("t-ops", "auth.login"),
                                                   ("admin", "user.update")]
        assert audited[2][2] == {"password_changed": True}  # never the password itself
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM users WHERE username LIKE 't-%'"))


def test_layers_follow_their_roles(anonymous: TestClient, client: TestClient) -> None:
    public = {la["id"] for la in anonymous.get("/api/layers").json()["layers"]}
    everything = {la["id"] for la in client.get("/api/layers").json()["layers"]}
    assert "county" in public and "roads" in public and "parcels" not in public
    assert "parcels" in everything and public < everything
    assert anonymous.get("/api/layers").headers["cache-control"].startswith("private")

    open_tile = anonymous.get(f"/tiles/county/{TILE}.mvt")
    assert open_tile.status_code in (200, 204)
    assert open_tile.headers["cache-control"].startswith("public")
    assert anonymous.get(f"/tiles/county,parcels/{TILE}.mvt").status_code == 401
    grid = bearer(client, "grid_worker")
    denied = anonymous.get(f"/tiles/county,parcels/{TILE}.mvt", headers=grid)
    assert denied.status_code == 403 and "parcels" in denied.json()["detail"]
    mine = anonymous.get(f"/tiles/county,grid_cells/{TILE}.mvt", headers=grid)
    assert mine.status_code in (200, 204)
    assert mine.headers["cache-control"].startswith("private")
    assert anonymous.get("/tiles/parcels.json").status_code == 401
    assert anonymous.get("/ogc/collections/parcels/items").status_code == 401
    collections = {c["id"] for c in anonymous.get("/ogc/collections").json()["collections"]}
    assert "parcels" not in collections and "county" in collections


def test_the_browser_websocket_uses_the_session_cookie(fresh: TestClient) -> None:
    fresh.post("/api/auth/login", json={"username": "viewer", "password": password_of("viewer")})
    with fresh.websocket_connect("/ws") as ws:
        ws.send_json({"type": "auth"})
        assert ws.receive_json()["type"] == "authenticated"
        ws.send_json({"type": "subscribe", "channel": "vehicles.alarms"})
        assert ws.receive_json()["type"] == "subscribed"


def test_demo_users_get_passwords_once(scratch_engine_users: sa.Engine) -> None:
    created = seed_demo_users(scratch_engine_users)
    assert set(created) == {u for u, _, _ in DEMO_USERS}
    assert all(len(p) >= 12 for p in created.values())
    assert seed_demo_users(scratch_engine_users) == {}
    with scratch_engine_users.connect() as conn:
        hashes = conn.execute(sa.text("SELECT password_hash FROM users")).scalars().all()
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any(p in h for h in hashes for p in created.values())


@pytest.fixture()
def scratch_engine_users(settings) -> Iterator[sa.Engine]:  # noqa: ANN001
    from backend.db.engine import create_engine
    from tests.conftest import scratch_database

    with scratch_database(settings, "users") as (_, urls):
        engine = create_engine(urls.app, pool_size=1)
        yield engine
        engine.dispose()
