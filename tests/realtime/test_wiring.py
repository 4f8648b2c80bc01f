"""The hub inside the real application: built by the lifespan from settings, /ws declared."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backend.auth.permissions import Permission, declared_permission
from backend.main import create_app
from backend.realtime.hub import Hub
from backend.settings import DEV_HUB_TOKEN, Settings
from tests.realtime.conftest import TOKEN, recv, subscribe

# A database that is never reached (settings checks only).
NO_DATABASE = "postgresql://nobody@127.0.0.1:9/none"


def walk(routes: list) -> list:
    """Routes, including those of included routers (FastAPI keeps them behind a wrapper)."""
    found = []
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        found.extend(walk(inner) if inner is not None else [route])
    return found


def test_app_lifespan_builds_and_closes_the_hub(settings: Settings, db_urls: object) -> None:
    app = create_app(settings.model_copy(update={"hub_token": TOKEN}))
    (route,) = [r for r in walk(app.routes) if getattr(r, "path", None) == "/ws"]
    assert declared_permission(route) == Permission.LIVE_READ
    with TestClient(app) as client:
        hub = app.state.hub
        assert isinstance(hub, Hub)
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"type": "auth", "token": TOKEN})
            assert recv(ws, "authenticated")
            subscribe(ws, "system")
            hub.publish_threadsafe("system", {"up": True}).result(timeout=2)
            assert recv(ws, "event")["data"] == {"up": True}
    assert hub.stats()["clients"] == 0


def test_hub_token_defaults() -> None:
    assert Settings(env="development").effective_hub_token() == DEV_HUB_TOKEN
    assert Settings(env="test").effective_hub_token() is None
    with pytest.raises(ValidationError, match="CITYOPS_HUB_TOKEN"):
        Settings(env="production", database_url=NO_DATABASE)
    with pytest.raises(ValueError, match="backplane"):
        Hub.from_settings(Settings(env="test", hub_backplane_url="kafka://x"))
