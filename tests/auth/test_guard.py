"""Login abuse (issue 8, defect 9) against the real app: failed-login limits per name and per
client address kept in PostgreSQL (they survive a restart and 10,001 other names), a bounded
number of password hashes at once, and every login and logout in the audit chain."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.users import create_user
from backend.settings import Settings
from tests.conftest import password_of, serve_app

USER = "t-guard"
PASSWORD = "amber-falcon-river-3"


@contextmanager
def own_app(settings: Settings, address: str = "testclient", **overrides: object
            ) -> Iterator[TestClient]:
    """A new app instance (its own lifespan: a 'restart') calling from `address`."""
    from backend.main import create_app

    app = create_app(settings.model_copy(update=overrides))
    with TestClient(app, client=(address, 40000)) as client:
        yield client


def login(client: TestClient, user: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"username": user, "password": password})


@pytest.fixture()
def guard_user(engine: sa.Engine, users: dict[str, str]) -> Iterator[str]:
    def clear() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM users WHERE username = :u"), {"u": USER})
            conn.execute(sa.text(
                "DELETE FROM login_failures WHERE username = :u OR username LIKE 'other-%' "
                "OR address LIKE '198.51.100.%'"), {"u": USER})

    clear()
    with engine.begin() as conn:
        create_user(conn, USER, PASSWORD, ["viewer"])
    yield USER
    clear()


def test_the_lock_holds_after_10001_other_names_failed(
    app, client: TestClient, engine: sa.Engine, guard_user: str  # noqa: ANN001
) -> None:
    """Before: the in-memory lockout was cleared once 10,000 other names had failed."""
    fresh = TestClient(app)
    for _ in range(5):
        assert login(fresh, USER, "wrong-password-1").status_code == 401
    guard = app.state.resources.login_guard
    with engine.begin() as conn:  # the app's own recording of a failure, 10,001 times
        for n in range(10_001):
            guard.failed(conn, f"other-{n}", f"198.51.100.{n % 250}")
    locked = login(fresh, USER, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed logins for this user name: try again in" in locked.json()["detail"]
    assert 0 < int(locked.headers["retry-after"]) <= 300


def test_the_lock_survives_a_restart(settings: Settings, guard_user: str) -> None:
    with own_app(settings) as first:
        for _ in range(5):
            assert login(first, USER, "wrong-password-1").status_code == 401
    with own_app(settings) as restarted:
        locked = login(restarted, USER, PASSWORD)
        assert locked.status_code == 429 and "this user name" in locked.json()["detail"]
        assert restarted.app.state.resources.login_guard.refusals["locked_name"] == 1


def test_failures_from_one_address_lock_every_name_from_it(
    settings: Settings, guard_user: str
) -> None:
    with own_app(settings, "198.51.100.7", login_max_failures_per_address=3) as guessing:
        for n in range(3):  # three names, one failure each: no name reaches its limit
            assert login(guessing, f"other-{n}", "wrong-password-1").status_code == 401
        locked = login(guessing, USER, PASSWORD)
        assert locked.status_code == 429
        assert "your network address" in locked.json()["detail"]
        assert int(locked.headers["retry-after"]) > 0
        guard = guessing.app.state.resources.login_guard
        assert guard.refusals["locked_address"] == 1 and guard.refusals["wrong_password"] == 3
        elsewhere = TestClient(guessing.app, client=("198.51.100.8", 40000))
        assert login(elsewhere, USER, PASSWORD).status_code == 200  # the name is not locked
        # A success does not reset the address's count (an attacker's own account).
        assert login(guessing, USER, PASSWORD).status_code == 429


def test_parallel_logins_hash_at_most_the_gates_limit(settings: Settings,
                                                      users: dict[str, str]) -> None:
    """Before: 40 parallel anonymous logins ran 40 argon2 hashes (64 MiB each) at once."""
    from backend.main import create_app

    app = create_app(settings.model_copy(update={"login_hash_concurrency": 3,
                                                 "login_hash_wait_s": 60.0}))
    with serve_app(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        guard = app.state.resources.login_guard

        def attempt(n: int) -> httpx.Response:
            who = "viewer" if n % 2 else f"nobody-{n}"
            return http.post("/api/auth/login", json={"username": who,
                                                      "password": password_of("viewer")})

        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(attempt, range(40)))
        assert sorted({r.status_code for r in answers}) == [200, 401]
        assert guard.hashing_peak == 3 and guard.hashing_now == guard.waiting == 0

        # No waiting allowed: whoever finds every slot taken is told to retry.
        guard.wait_s = 0.0
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(attempt, range(20)))
        busy = [r for r in answers if r.status_code == 503]
        assert busy and guard.refusals["busy"] == len(busy)
        assert all(r.headers["retry-after"] == "1" and "busy" in r.json()["detail"]
                   for r in busy)
        assert guard.hashing_peak == 3


def test_logins_and_logouts_are_audited_without_the_password(
    app, engine: sa.Engine, guard_user: str  # noqa: ANN001
) -> None:
    fresh = TestClient(app, client=("198.51.100.9", 40000))
    with engine.connect() as conn:
        last = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    assert login(fresh, USER, "wrong-password-1").status_code == 401
    token = login(fresh, USER, PASSWORD).json()["token"]
    assert fresh.post("/api/auth/logout",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 204
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT actor, action, entity_id, data FROM audit_log WHERE id > :last "
            "AND action LIKE 'auth.%' ORDER BY id"), {"last": last}).all()
    address = {"address": "198.51.100.9"}
    assert [tuple(r) for r in rows] == [
        ("anonymous", "auth.login_failed", None, {"username": USER, **address}),
        (USER, "auth.login", USER, address),
        (USER, "auth.logout", USER, address),
    ]
    assert not any(PASSWORD in str(r.data) or "wrong-password" in str(r.data) for r in rows)
    from backend.audit.chain import verify

    with engine.connect() as conn:
        assert verify(conn).ok

