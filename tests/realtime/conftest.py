"""Hub test apps: the real hub and /ws router in a minimal app (no database needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from backend.realtime.hub import Hub
from backend.realtime.router import router
from backend.settings import Settings
from tests.conftest import serve_app

TOKEN = "test-token-1"


def hub_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test",
        "hub_token": TOKEN,
        "hub_history": 50,
        "hub_heartbeat_s": 30.0,
        "hub_auth_timeout_s": 0.3,
    }
    return Settings(**(base | overrides))


def hub_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = Hub.from_settings(settings)
        await hub.start()
        app.state.hub = hub
        try:
            yield
        finally:
            await hub.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


class Harness:
    """A TestClient on a hub app, with helpers that publish on the app's own loop."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.sessions = ExitStack()
        self.hub: Hub = client.app.state.hub  # type: ignore[attr-defined]

    def publish(self, channel: str, data: dict) -> int:
        return self.hub.publish_threadsafe(channel, data).result(timeout=2)

    def connect(self, *, auth: bool = True) -> WebSocketTestSession:
        ws = self.sessions.enter_context(self.client.websocket_connect("/ws"))
        if auth:
            ws.send_json({"type": "auth", "token": TOKEN})
            assert ws.receive_json() == {"type": "authenticated"}
        return ws


@pytest.fixture
def harness() -> Iterator[Harness]:
    with TestClient(hub_app(hub_settings())) as client:
        h = Harness(client)
        with h.sessions:
            yield h


def recv(ws: WebSocketTestSession, kind: str) -> dict:
    """The next frame of `kind`, skipping heartbeat pings (bounded by the server's frames)."""
    while True:
        msg = ws.receive_json()
        if msg["type"] != "ping":
            assert msg["type"] == kind, msg
            return msg


def subscribe(ws: WebSocketTestSession, channel: str, **extra: Any) -> dict:
    ws.send_json({"type": "subscribe", "channel": channel, **extra})
    return recv(ws, "subscribed")


@contextmanager
def serve(app: FastAPI) -> Iterator[tuple[str, Hub]]:
    """The app under a real uvicorn on a free loopback port, in a thread."""
    with serve_app(app) as base:
        yield base.replace("http://", "ws://") + "/ws", app.state.hub


async def on_hub_loop(hub: Hub, coro: Any) -> Any:
    """Run a coroutine on the hub's (server's) loop from the test's loop."""
    loop = hub._loop
    assert loop is not None
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
