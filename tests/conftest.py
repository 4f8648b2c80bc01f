"""Shared fixtures: one real PostGIS database per test session (managed cluster unless
DATABASE_URL is set), migrated from empty, with a small demo county loaded once."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from starlette.testclient import WebSocketTestSession

from backend.db.engine import (
    DatabaseUrls,
    create_engine,
    drop_database,
    ensure_database,
    local_cluster,
)
from backend.db.migrate import upgrade
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SMALL_SCALE = 0.02  # the demo county at 2 %: a few seconds to build and load
TEST_HUB_TOKEN = "test-hub-token"
TEST_INGEST_TOKEN = "test-ingest-token"
TEST_METRICS_TOKEN = "test-metrics-token"
# The data steward acts for 城管局 (CGJ: public toilets, waste facilities... in the catalog).
TEST_DEPARTMENTS = {"data_steward": "CGJ", "population_officer": "GAJ"}


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    anchors = tmp_path_factory.mktemp("audit")  # the session's database is new: so are these
    # ... for every process the session starts too (`cityops serve`, `audit verify` run in a
    # test): an anchor of this database in the checkout's var/audit would contradict the next
    # session's new database.
    os.environ["CITYOPS_AUDIT_ANCHOR_FILE"] = str(anchors / "anchors.jsonl")
    os.environ["CITYOPS_AUDIT_ANCHOR_KEY_FILE"] = str(anchors / "anchor.key")
    return Settings(
        env="test",
        photos_dir=tmp_path_factory.mktemp("photos"),
        audit_anchor_file=anchors / "anchors.jsonl",
        audit_anchor_key_file=anchors / "anchor.key",
        database_name=os.environ.get("CITYOPS_TEST_DATABASE", "cityops_test"),
        tile_version_ttl_s=0.0,
        metrics_token=TEST_METRICS_TOKEN,
        hub_token=TEST_HUB_TOKEN,
        ingest_token=TEST_INGEST_TOKEN,
        # Every test client calls from one address ('testclient'): a fuzz run's wrong logins
        # must not lock the rest of the session out. tests/auth/test_guard.py tests the limit.
        login_max_failures_per_address=100_000,
        # The session's server sweeps for overdue cases when it starts; a sweep every minute
        # would also 督办, on the real clock, the simulated March day a scenario test has just
        # played and is checking. tests/incidents/test_api.py sweeps explicitly.
        supervision_interval_s=3600.0,
        # Tests drive the traffic service themselves (tests/traffic): no timer pushing levels
        # on the session's hub between them.
        traffic_publish_s=0.0,
        # Tests drive the table exchange and the quality runs themselves (tests/datasets, ...).
        dataset_exchange_tick_s=0.0,
        quality_interval_s=0.0,
    )


@pytest.fixture(scope="session")
def db_urls(settings: Settings) -> Iterator[DatabaseUrls]:
    """A database migrated from empty for this session. A managed cluster that this session
    had to start is stopped again at the end (CI leaves nothing running)."""
    cluster = None if settings.database_url else local_cluster(settings)
    was_running = cluster is not None and cluster.is_running()
    if cluster is not None:
        drop_database(settings)
    urls = ensure_database(settings)
    upgrade(urls)
    yield urls
    if cluster is not None and not was_running:
        cluster.stop()


@pytest.fixture(scope="session")
def engine(db_urls: DatabaseUrls) -> Iterator[Engine]:
    """The application's engine (the non-superuser role when the database is managed)."""
    eng = create_engine(db_urls.app, pool_size=4)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def admin_engine(db_urls: DatabaseUrls) -> Iterator[Engine]:
    eng = create_engine(db_urls.admin, pool_size=2)
    yield eng
    eng.dispose()


@contextmanager
def scratch_database(
    settings: Settings, suffix: str, *, migrate: bool = True
) -> Iterator[tuple[Settings, DatabaseUrls]]:
    """A second database in the managed cluster, empty (or just migrated), dropped afterwards."""
    if settings.database_url:
        pytest.skip("needs the managed cluster to create a scratch database")
    scratch = settings.model_copy(update={"database_name": f"{settings.database_name}_{suffix}"})
    drop_database(scratch)
    urls = ensure_database(scratch)
    if migrate:
        upgrade(urls)
    try:
        yield scratch, urls
    finally:
        drop_database(scratch)


def table_count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()


@pytest.fixture(scope="session")
def county(engine: Engine, db_urls: DatabaseUrls) -> dict[str, int]:
    """The small demo county, loaded once per session. Tests must not delete its rows."""
    from backend.county import build_county, load_county, load_recipe
    from backend.demo import analyze_as_owner

    counts = load_county(engine, build_county(load_recipe(), scale=SMALL_SCALE))
    analyze_as_owner(db_urls.admin, list(counts))
    return counts


def password_of(username: str) -> str:
    # Reversed: the password policy refuses a password containing the user name.
    return f"{username[::-1]}-test-password"


@pytest.fixture(scope="session")
def users(engine: Engine) -> dict[str, str]:
    """One user per role, named after the role: {user name: password}."""
    from backend.auth.permissions import Role
    from backend.auth.users import create_user

    made = {}
    with engine.begin() as conn:
        for role in Role:
            create_user(conn, role.value, password_of(role.value), [role.value],
                        display_name=f"测试 {role.value}",
                        department=TEST_DEPARTMENTS.get(role.value))
            made[role.value] = password_of(role.value)
    return made


@pytest.fixture(scope="session")
def app(settings: Settings, county: dict[str, int], users: dict[str, str]):  # noqa: ANN201
    from backend.main import create_app

    return create_app(settings)


def login_token(client: TestClient, username: str) -> str:
    response = client.post("/api/auth/login",
                           json={"username": username, "password": password_of(username)})
    assert response.status_code == 200, response.text
    client.cookies.clear()  # the bearer header alone decides who calls
    return response.json()["token"]


def bearer(client: TestClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login_token(client, username)}"}


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    """The app, called by the admin (a bearer token on every request)."""
    with TestClient(app) as c:
        c.headers.update(bearer(c, "admin"))
        yield c


@pytest.fixture(scope="session")
def anonymous(app, client: TestClient) -> TestClient:  # noqa: ANN001
    """The same running app, called without any credential."""
    return TestClient(app)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(app: object) -> Iterator[str]:
    """`app` under a real uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(settings: Settings, county: dict[str, int], users: dict[str, str]
                ) -> Iterator[str]:
    """The app served for independent clients (GDAL, Chromium): its own app instance with its
    own lifespan and hub on the server's loop (sharing the session `app` would run a second
    lifespan over the first one's state). The database is the same, so what `client` writes
    is seen here; what must be pushed live to a browser goes through `live_api`."""
    from backend.main import create_app

    with serve_app(create_app(settings)) as base:
        yield base


@pytest.fixture(scope="session")
def live_api(live_server: str) -> Iterator[httpx.Client]:
    """HTTP to the live server (whose hub the browsers listen to); pass a role's bearer."""
    with httpx.Client(base_url=live_server, timeout=30) as http:
        yield http


COUNTY_BBOX = [117.5, 33.2, 118.3, 33.9]  # the whole county, for viewport subscriptions


@contextmanager
def console(client: TestClient, channel: str, bbox: list[float] = COUNTY_BBOX
            ) -> Iterator[WebSocketTestSession]:
    """A console on /ws: authenticated and subscribed to `channel` within `bbox`."""
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "auth", "token": TEST_HUB_TOKEN})
        assert ws.receive_json()["type"] == "authenticated"
        ws.send_json({"type": "subscribe", "channel": channel, "bbox": bbox})
        assert ws.receive_json()["type"] == "subscribed"
        yield ws


def next_event(ws: WebSocketTestSession) -> dict:
    """The next `event` message (skipping pings and other control messages)."""
    while True:
        msg = ws.receive_json()
        if msg["type"] == "event":
            return msg


@pytest.fixture()
def gateway_client(
    settings: Settings, county: dict[str, int], users: dict[str, str]
) -> Iterator[TestClient]:
    """The app with its JT/T 808 gateway on a free port (app.state.jt808.port), called by
    the admin."""
    from backend.main import create_app

    app = create_app(settings.model_copy(update={"jt808_enabled": True, "jt808_port": 0}))
    with TestClient(app) as client:
        client.headers.update(bearer(client, "admin"))
        yield client


@pytest.fixture(scope="session")
def population(engine: Engine, county: dict[str, int], users: dict[str, str]):  # noqa: ANN201
    """The small test population of the population base (tests/people/population.py), written
    once per session; the test grid worker works its first three cells (one of them tiny).
    Tests must not delete these rows."""
    from tests.people.population import build

    with engine.begin() as conn:
        made = build(conn)
        conn.execute(sa.text("""
INSERT INTO grid_workers (grid_code, user_id)
SELECT unnest(CAST(:cells AS text[])), id FROM users WHERE username = 'grid_worker'
ON CONFLICT DO NOTHING"""), {"cells": made.cells[:3]})
    return made
