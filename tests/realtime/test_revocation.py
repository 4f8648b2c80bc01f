"""Revocation reaches live sockets (issue 8, defect 7): logout, a user disabled, their roles
or password changed close that user's /ws connections within 1 s with close code 4410, on the
same server (memory://) and on another server sharing a real Redis; nothing is sent after.
The periodic session check closes what no message announced (the CLI on memory://)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import redis
import sqlalchemy as sa
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from backend.auth.users import create_user, update_user
from backend.cli import announce_revocation
from backend.realtime.hub import Hub
from backend.realtime.messages import CLOSE_REVOKED, SYSTEM
from backend.settings import Settings
from tests.conftest import password_of, serve_app
from tests.realtime.test_redis import redis_url

USER = "t-rev-ops"
PASSWORD = "correct-horse-battery-7"
NEW_PASSWORD = "staple-orbit-lantern-9"


@dataclass
class Server:
    base: str
    hub: Hub

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws"


@contextmanager
def served(settings: Settings) -> Iterator[Server]:
    from backend.main import create_app

    app = create_app(settings)
    with serve_app(app) as base:
        yield Server(base, app.state.hub)


@pytest.fixture()
def ops_user(engine: sa.Engine, users: dict[str, str]) -> Iterator[str]:
    """A viewer of this test's own (disabled, re-roled and re-passworded by the tests)."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE username = :u"), {"u": USER})
        create_user(conn, USER, PASSWORD, ["viewer"])
    yield USER
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE username = :u"), {"u": USER})


async def login(http: httpx.AsyncClient, base: str, user: str, password: str) -> str:
    response = await http.post(f"{base}/api/auth/login",
                               json={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


async def as_admin(http: httpx.AsyncClient, base: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + await login(http, base, "admin", password_of("admin"))}


async def console(server: Server, token: str) -> ClientConnection:
    ws = await connect(server.ws, open_timeout=5)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "authenticated"
    await ws.send(json.dumps({"type": "subscribe", "channel": SYSTEM}))
    while json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] != "subscribed":
        pass
    return ws


@dataclass
class Feed:
    """Events published on a hub every 10 ms, numbered, so a test can tell which were
    published after a revocation returned."""

    hub: Hub
    n: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def run(self) -> None:
        while True:
            self.n += 1
            await asyncio.wrap_future(self.hub.publish_threadsafe(SYSTEM, {"n": self.n}))
            await asyncio.sleep(0.01)

    def __enter__(self) -> Feed:
        self.task = asyncio.get_running_loop().create_task(self.run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()


async def closed_after(ws: ClientConnection, limit_s: float = 1.0
                       ) -> tuple[int, str, list[int], float]:
    """Read until the server closes: (close code, reason, event numbers seen, seconds)."""
    started = time.monotonic()
    seen: list[int] = []
    try:
        while True:
            left = limit_s - (time.monotonic() - started)
            msg = json.loads(await asyncio.wait_for(ws.recv(), max(left, 0.001)))
            if msg["type"] == "event":
                seen.append(msg["data"]["n"])
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a close frame"
        return closed.rcvd.code, closed.rcvd.reason, seen, time.monotonic() - started


async def still_open(ws: ClientConnection) -> None:
    """The socket keeps receiving events."""
    for _ in range(3):
        while json.loads(await asyncio.wait_for(ws.recv(), 2))["type"] != "event":
            pass


async def expect_revoked(ws: ClientConnection, feed: Feed, revoked_at: int, reason: str) -> None:
    code, why, seen, took = await closed_after(ws)
    assert code == CLOSE_REVOKED and reason in why, (code, why)
    assert took < 1.0
    assert all(n <= revoked_at for n in seen), (revoked_at, seen)  # nothing sent after


@pytest.fixture(scope="module")
def memory_server(settings: Settings, county: dict[str, int], users: dict[str, str]
                  ) -> Iterator[Server]:
    with served(settings) as server:
        yield server


def test_logout_disable_roles_and_password_close_the_users_sockets(
    memory_server: Server, ops_user: str
) -> None:
    server = memory_server

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            admin = await as_admin(http, server.base)
            first = await login(http, server.base, USER, PASSWORD)
            second = await login(http, server.base, USER, PASSWORD)
            ws1, ws1b = await console(server, first), await console(server, first)
            ws2 = await console(server, second)
            with Feed(server.hub) as feed:
                await still_open(ws1)
                # Logout: that session's sockets close, the user's other session stays.
                out = await http.post(f"{server.base}/api/auth/logout",
                                      headers={"Authorization": f"Bearer {first}"})
                assert out.status_code == 204
                at = feed.n
                await expect_revoked(ws1, feed, at, "logout")
                await expect_revoked(ws1b, feed, at, "logout")
                await still_open(ws2)
                me = await http.get(f"{server.base}/api/auth/me",
                                    headers={"Authorization": f"Bearer {first}"})
                assert me.status_code == 401
                # Roles changed: every socket of the user (they log in again with new rights).
                changed = await http.patch(f"{server.base}/api/users/{USER}",
                                           json={"roles": ["traffic_police"]}, headers=admin)
                assert changed.status_code == 200
                await expect_revoked(ws2, feed, feed.n, "roles changed")
                # Password changed.
                ws3 = await console(server, await login(http, server.base, USER, PASSWORD))
                changed = await http.patch(f"{server.base}/api/users/{USER}",
                                           json={"password": NEW_PASSWORD}, headers=admin)
                assert changed.status_code == 200
                await expect_revoked(ws3, feed, feed.n, "password changed")
                # Disabled.
                ws4 = await console(server, await login(http, server.base, USER, NEW_PASSWORD))
                ws5 = await console(server, await login(http, server.base, USER, NEW_PASSWORD))
                changed = await http.patch(f"{server.base}/api/users/{USER}",
                                           json={"active": False}, headers=admin)
                assert changed.status_code == 200
                await expect_revoked(ws4, feed, feed.n, "disabled")
                await expect_revoked(ws5, feed, feed.n, "disabled")
                # A display-name change ends nothing.
                ws6 = await console(server, await login(http, server.base, "viewer",
                                                        password_of("viewer")))
                renamed = await http.patch(f"{server.base}/api/users/viewer",
                                           json={"display_name": "测试 viewer"}, headers=admin)
                assert renamed.status_code == 200
                await still_open(ws6)
                await ws6.close()

    before = server.hub.stats()["revoked"]
    asyncio.run(scenario())
    assert server.hub.stats()["revoked"] - before == 6


def test_the_session_check_closes_sockets_no_message_announced(
    settings: Settings, county: dict[str, int], engine: sa.Engine, ops_user: str
) -> None:
    """The CLI on memory:// (another process, no backplane): the periodic check closes them."""
    quick = settings.model_copy(update={"hub_session_check_s": 0.2})

    async def scenario(server: Server) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            ws = await console(server, await login(http, server.base, USER, PASSWORD))
            with Feed(server.hub) as feed:
                await still_open(ws)

                def disable() -> None:
                    with engine.begin() as conn:  # what `cityops users disable` does
                        update_user(conn, USER, active=False, actor="cli:test")

                await asyncio.to_thread(disable)
                code, why, _, took = await closed_after(ws)
                assert code == CLOSE_REVOKED and "expired or revoked" in why
                assert took < 1.0
                del feed

    with served(quick) as server:
        asyncio.run(scenario(server))


@pytest.fixture()
def redis_backplane() -> Iterator[str]:
    with redis_url() as url:
        prefix = f"cityops-test:{uuid.uuid4().hex}:"
        yield f"{url}?prefix={prefix}"
        r = redis.Redis.from_url(url)
        keys = list(r.scan_iter(match=f"{prefix}*"))
        if keys:
            r.delete(*keys)


def test_revocation_on_one_server_closes_sockets_and_cached_sessions_on_another(
    settings: Settings, county: dict[str, int], users: dict[str, str], engine: sa.Engine,
    ops_user: str, redis_backplane: str
) -> None:
    shared = settings.model_copy(update={"hub_backplane_url": redis_backplane,
                                         "hub_session_check_s": 600.0})

    async def scenario(a: Server, b: Server) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            admin = await as_admin(http, a.base)
            token = await login(http, a.base, USER, PASSWORD)
            mine = {"Authorization": f"Bearer {token}"}
            # Server B resolves the session once and caches it (30 s).
            assert (await http.get(f"{b.base}/api/auth/me", headers=mine)).status_code == 200
            ws = await console(b, token)
            with Feed(b.hub) as feed:
                await still_open(ws)
                assert (await http.post(f"{a.base}/api/auth/logout",
                                        headers=mine)).status_code == 204
                await expect_revoked(ws, feed, feed.n, "logout")
                # B's cache forgot the session at once, not 30 s later.
                assert (await http.get(f"{b.base}/api/auth/me", headers=mine)).status_code == 401
                # Disabled on A: every socket of the user on B.
                token = await login(http, b.base, USER, PASSWORD)
                ws1, ws2 = await console(b, token), await console(a, token)
                assert (await http.patch(f"{a.base}/api/users/{USER}", json={"active": False},
                                         headers=admin)).status_code == 200
                await expect_revoked(ws1, feed, feed.n, "disabled")
                await expect_revoked(ws2, feed, feed.n, "disabled")
                # The CLI (no hub of its own) announces on the same Redis.
                assert (await http.patch(f"{a.base}/api/users/{USER}", json={"active": True},
                                         headers=admin)).status_code == 200
                ws3 = await console(b, await login(http, a.base, USER, PASSWORD))

                def cli_passwd() -> str:
                    with engine.begin() as conn:
                        revocation = update_user(conn, USER, password=NEW_PASSWORD,
                                                 actor="cli:test")
                    assert revocation is not None
                    return announce_revocation(shared, revocation)

                said = await asyncio.to_thread(cli_passwd)
                assert "2 server process(es) told" in said
                await expect_revoked(ws3, feed, feed.n, "password changed")

    with ExitStack() as stack:
        a = stack.enter_context(served(shared))
        b = stack.enter_context(served(shared))
        asyncio.run(scenario(a, b))


def test_a_socket_authenticating_while_its_session_is_revoked_is_closed_on_attach() -> None:
    """The session was resolved just before the revocation arrived, the socket attached just
    after: it is closed as it attaches. A login after the revocation is not."""
    from backend.realtime.access import Principal
    from backend.realtime.backplane import MemoryBackplane
    from backend.realtime.client import Client
    from backend.realtime.messages import CHANNELS, Revocation

    async def scenario() -> None:
        hub = Hub(MemoryBackplane(10), token=None)
        await hub.start()
        try:
            def socket_of(user_id: int, session: bytes) -> Client:
                who = Principal("u", CHANNELS, user_id=user_id, session=session)
                return Client(None, who, 8, 8)  # type: ignore[arg-type]  # never sends here

            racing = socket_of(7, b"a" * 32)
            mark = hub.revocations.mark()  # authentication begins
            await hub.revoke(Revocation(7, None, "disabled"))
            later = socket_of(7, b"b" * 32)  # logged in again after the revocation
            later_mark = hub.revocations.mark()
            other = socket_of(8, b"c" * 32)
            for client, since in ((racing, mark), (later, later_mark), (other, mark)):
                hub.attach(client)
                hub.revocations.admit(client, since)
            assert racing.close_code == CLOSE_REVOKED and "disabled" in racing.close_reason
            assert later.close_code is None and other.close_code is None
            assert hub.stats()["revoked"] == 1
        finally:
            await hub.close()

    asyncio.run(scenario())


def test_a_logout_while_redis_is_away_still_ends_the_session_and_its_sockets(
    settings: Settings, county: dict[str, int], users: dict[str, str], ops_user: str
) -> None:
    """The backplane cannot be reached: the logout answers, the failure is counted, and the
    periodic session check closes the socket."""
    from tests.conftest import free_port

    with ExitStack() as redis_alive:
        url = redis_alive.enter_context(redis_url(f"redis://127.0.0.1:{free_port()}/0"))
        own = settings.model_copy(update={"hub_backplane_url": url,
                                          "hub_session_check_s": 0.3})

        async def scenario(server: Server) -> None:
            async with httpx.AsyncClient(timeout=30) as http:
                token = await login(http, server.base, USER, PASSWORD)
                ws = await console(server, token)
                redis_alive.close()  # this test's own Redis stops
                started = time.monotonic()
                out = await http.post(f"{server.base}/api/auth/logout",
                                      headers={"Authorization": f"Bearer {token}"})
                assert out.status_code == 204 and time.monotonic() - started < 7
                code, why, _, _ = await closed_after(ws, limit_s=2.0)
                assert code == CLOSE_REVOKED and "expired or revoked" in why

        with served(own) as server:
            asyncio.run(scenario(server))
            assert server.hub.stats()["revocations_unsent"] == 1
