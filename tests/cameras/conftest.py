"""Fixtures of the video part (play links, test streams, camera alarms): the app with a
camera alarm token and its own stream directory, called by the admin. Names start with
`video_` so that other camera tests' fixtures stay theirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.settings import Settings
from tests.conftest import bearer

VIDEO_ALARM_TOKEN = "test-camera-alarm-token"


@pytest.fixture(scope="session")
def video_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings.model_copy(update={
        "camera_alarm_token": VIDEO_ALARM_TOKEN,
        "media_hls_dir": tmp_path_factory.mktemp("hls"),
        "media_link_secret": "test-media-link-secret",
        "media_link_ttl_s": 60,
    })


@pytest.fixture(scope="session")
def video_client(video_settings: Settings, county: dict[str, int], users: dict[str, str]
                 ) -> Iterator[TestClient]:
    from backend.main import create_app

    with TestClient(create_app(video_settings)) as c:
        c.headers.update(bearer(c, "admin"))
        yield c


@pytest.fixture(scope="session")
def video_cameras(engine: Engine, county: dict[str, int]) -> list[dict]:
    """The demo county's cameras (code, name, lon, lat), by code."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT code, name, kind, status, ST_X(geom) AS lon, ST_Y(geom) AS lat "
            "FROM cameras ORDER BY code")).mappings().all()
    assert len(rows) >= 6, "the small demo county should hold a few cameras"
    return [dict(r) for r in rows]


def hls_dir(settings: Settings) -> Path:
    return Path(settings.media_hls_dir)
