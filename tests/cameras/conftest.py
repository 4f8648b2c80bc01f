"""Fixtures of the camera tests. The video part (play links, test streams, camera alarms): the
app with a camera alarm token and its own stream directory, called by the admin; names start
with `video_`. The views and seeing part: a scene of cameras and buildings placed in metres
(EPSG:4548) around ORIGIN, a spot of the small demo county with no buildings within 500 m."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.cameras import views
from backend.catalog.camera_views import CameraViewParams, load_camera_views
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


ORIGIN = (117.64, 33.71)   # lon, lat: rural north-west, empty in the 2 % county
SOURCE = "test-cameras"


class Scene:
    """Puts cameras and buildings at metric offsets (x east, y north) from ORIGIN."""

    def __init__(self, engine: sa.Engine, params: CameraViewParams) -> None:
        self.engine, self.params = engine, params
        self.srid = params.metric_epsg
        with engine.connect() as conn:
            self.x0, self.y0 = conn.execute(sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat),"
                " 4326), :srid) AS p"), {"lon": ORIGIN[0], "lat": ORIGIN[1],
                                         "srid": self.srid}).one()

    def lonlat(self, dx: float, dy: float) -> tuple[float, float]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), "
                ":srid), 4326) AS p"),
                {"x": self.x0 + dx, "y": self.y0 + dy, "srid": self.srid}).one()
        return row[0], row[1]

    def camera(self, code: str, dx: float, dy: float, heading: float | None, *,
               fov: float = 90, range_m: float | None = 100, kind: str = "tianwang",
               status: str = "online") -> int:
        with self.engine.begin() as conn:
            return conn.execute(sa.text(
                "INSERT INTO cameras (source, source_key, code, name, kind, status, "
                "direction_deg, fov_deg, range_m, geom) VALUES (:src, :code, :code, :code, "
                ":kind, :status, :h, :fov, :r, ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), "
                ":srid), 4326)) RETURNING id"),
                {"src": SOURCE, "code": code, "kind": kind, "status": status, "h": heading,
                 "fov": fov, "r": range_m, "x": self.x0 + dx, "y": self.y0 + dy,
                 "srid": self.srid}).scalar_one()

    def building(self, key: str, x0: float, y0: float, x1: float, y1: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO buildings (source, source_key, floors, height, geom) VALUES "
                "(:src, :key, 3, 10, ST_Multi(ST_Transform(ST_MakeEnvelope(:a, :b, :c, :d, "
                ":srid), 4326)))"),
                {"src": SOURCE, "key": key, "a": self.x0 + x0, "b": self.y0 + y0,
                 "c": self.x0 + x1, "d": self.y0 + y1, "srid": self.srid})

    def compute(self, *ids: int) -> None:
        with self.engine.begin() as conn:
            views.compute(conn, list(ids), self.params)

    def rows(self, camera_id: int) -> list[sa.Row]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(
                "SELECT view_no, heading_deg, fov_deg, range_m, status, area_m2, visible_share,"
                " computed_at, ST_Area(ST_Transform(geom, :srid)) AS metric_area "
                "FROM camera_views WHERE camera_id = :id ORDER BY view_no"),
                {"id": camera_id, "srid": self.srid}).all())

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM cameras WHERE source = :s"), {"s": SOURCE})
            conn.execute(sa.text("DELETE FROM buildings WHERE source = :s"), {"s": SOURCE})


@pytest.fixture(scope="module")
def scene(engine: sa.Engine, county: dict[str, int]) -> Iterator[Scene]:
    made = Scene(engine, load_camera_views())
    with engine.connect() as conn:
        near = conn.execute(sa.text(
            "SELECT count(*) FROM buildings WHERE ST_DWithin(geom::geography, "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, 500)"),
            {"lon": ORIGIN[0], "lat": ORIGIN[1]}).scalar_one()
    assert near == 0, "ORIGIN must be clear of the demo county's buildings"
    made.clear()
    yield made
    made.clear()
