"""Stored views on the real PostGIS: rows per camera and preset, the building's shadow as
cones.py computes it, the kind's default range, flagged cameras, and staleness (a camera,
a preset or the buildings changing makes exactly the affected views stale)."""

from __future__ import annotations

import gzip
import math

import mapbox_vector_tile
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.cameras import views
from backend.settings import Settings
from tests.cameras.conftest import Scene
from tests.conftest import bearer
from tests.test_cli import cityops
from tiles.tms import lonlat_to_tile

SECTOR_90 = 100 * 100 * math.pi / 4       # fov 90, range 100
SHADOW = 100 * 100 * math.atan(0.25) - 100  # a 10 m face 20 m ahead (test_cones.py)


def stale(scene: Scene) -> set[int]:
    with scene.engine.connect() as conn:
        return set(views.stale_cameras(conn, scene.params))


def test_views_are_stored_per_camera_and_preset(scene: Scene) -> None:
    cam = scene.camera("t-views-a", 0, 0, 0)
    scene.building("t-views-a-ahead", -5, 20, 5, 30)
    with scene.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO camera_presets (camera_id, preset_no, heading_deg, "
                             "fov_deg, range_m) VALUES (:c, 1, 180, 60, 50)"), {"c": cam})
    scene.compute(cam)
    own, preset = scene.rows(cam)
    assert (own.view_no, own.status, own.heading_deg, own.fov_deg, own.range_m) == (
        0, "ok", 0, 90, 100)
    # Stored in 4326, back in metres: the shadow as computed by hand (projection and
    # 1-degree arc: 1e-3).
    assert own.metric_area == pytest.approx(SECTOR_90 - SHADOW, rel=1e-3)
    assert own.area_m2 == pytest.approx(SECTOR_90 - SHADOW, rel=1e-3)
    assert own.visible_share == pytest.approx((SECTOR_90 - SHADOW) / SECTOR_90, rel=1e-3)
    assert (preset.view_no, preset.status, preset.heading_deg) == (1, "ok", 180)
    assert preset.metric_area == pytest.approx(50 * 50 * math.pi / 6, rel=1e-3)  # open, south
    assert preset.visible_share == pytest.approx(1.0)
    assert cam not in stale(scene)


def test_the_kind_default_range_and_flagged_cameras(scene: Scene) -> None:
    traffic = scene.camera("t-views-default", 300, 0, 90, range_m=None, kind="traffic", fov=40)
    inside = scene.camera("t-views-inside", 300, 200, 0)
    scene.building("t-views-room", 290, 190, 310, 210)
    blind = scene.camera("t-views-blind", 300, -200, None)
    scene.compute(traffic, inside, blind)
    (row,) = scene.rows(traffic)
    assert row.range_m == scene.params.default_range_m["traffic"]
    assert row.metric_area == pytest.approx(row.range_m ** 2 * math.radians(40) / 2, rel=1e-3)
    (room,) = scene.rows(inside)
    assert (room.status, room.metric_area, room.area_m2) == ("inside_building", None, 0)
    (none,) = scene.rows(blind)
    assert (none.status, none.metric_area) == ("no_heading", None)
    with scene.engine.connect() as conn:
        listed = {(r.code, r.status) for r in views.flagged(conn)}
    assert {("t-views-inside", "inside_building"), ("t-views-blind", "no_heading")} <= listed


def test_a_change_to_a_camera_its_presets_or_the_buildings_makes_it_stale(scene: Scene
                                                                          ) -> None:
    cam = scene.camera("t-views-stale", 0, 300, 90)
    other = scene.camera("t-views-other", 0, 400, 90)
    scene.compute(cam, other)
    assert not {cam, other} & stale(scene)
    with scene.engine.begin() as conn:  # a status change alone: nothing to recompute
        conn.execute(sa.text("UPDATE cameras SET status = 'offline' WHERE id = :c"), {"c": cam})
    assert cam not in stale(scene)
    with scene.engine.begin() as conn:  # a new heading, without touching updated_at
        conn.execute(sa.text("UPDATE cameras SET direction_deg = 45 WHERE id = :c"), {"c": cam})
    assert cam in stale(scene) and other not in stale(scene)
    scene.compute(cam)
    assert scene.rows(cam)[0].heading_deg == 45 and cam not in stale(scene)

    with scene.engine.begin() as conn:  # a preset added, changed, removed
        conn.execute(sa.text("INSERT INTO camera_presets (camera_id, preset_no, heading_deg, "
                             "fov_deg) VALUES (:c, 2, 270, 30)"), {"c": cam})
    assert cam in stale(scene)
    scene.compute(cam)
    assert [r.view_no for r in scene.rows(cam)] == [0, 2] and cam not in stale(scene)
    with scene.engine.begin() as conn:
        conn.execute(sa.text("UPDATE camera_presets SET fov_deg = 20 WHERE camera_id = :c"),
                     {"c": cam})
    assert cam in stale(scene)
    scene.compute(cam)
    with scene.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM camera_presets WHERE camera_id = :c"), {"c": cam})
    assert cam in stale(scene)
    scene.compute(cam)
    assert [r.view_no for r in scene.rows(cam)] == [0]

    with scene.engine.begin() as conn:  # moved by a writer that stamps updated_at
        conn.execute(sa.text("UPDATE cameras SET updated_at = now() WHERE id = :c"), {"c": cam})
    assert cam in stale(scene)
    scene.compute(cam, other)
    assert not {cam, other} & stale(scene)
    scene.building("t-views-new", 40, 290, 50, 310)  # any building write: all are stale
    assert {cam, other} <= stale(scene)
    scene.compute(cam, other)
    assert scene.rows(cam)[0].visible_share < 1.0  # the new building is in its way now


def test_the_command_recomputes_what_is_stale(scene: Scene, settings: Settings) -> None:
    cam = scene.camera("t-views-cli", -300, 0, 270)
    done = cityops(settings, "cameras", "views")
    assert done.returncode == 0, done.stderr
    assert "camera views:" in done.stdout
    assert "inside_building  t-views-inside view 0" in done.stdout  # the flagged are listed
    assert cam not in stale(scene) and not stale(scene)
    assert scene.rows(cam)[0].status == "ok"
    again = cityops(settings, "cameras", "views")
    assert "camera views: 0 cameras recomputed" in again.stdout, again.stdout


def test_the_map_view_draws_views_with_their_camera(scene: Scene) -> None:
    cam = scene.camera("t-views-map", -300, 300, 0, status="fault")
    scene.compute(cam)
    with scene.engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT code, kind, status, view_no, id FROM camera_views_map WHERE code = :c"),
            {"c": "t-views-map"}).one()
    assert tuple(row) == ("t-views-map", "tianwang", "fault", 0, cam * 256)


def test_the_cameras_view_layer_serves_the_views_as_tiles(scene: Scene, client: TestClient,
                                                          ) -> None:
    cam = scene.camera("t-views-tile", -600, 0, 90, status="online")
    scene.compute(cam)
    lon, lat = scene.lonlat(-550, 0)  # inside its view
    x, y = lonlat_to_tile(lon, lat, 16)
    response = client.get(f"/tiles/cameras_view/16/{x}/{y}.mvt")
    assert response.status_code == 200, response.text
    tile = mapbox_vector_tile.decode(gzip.decompress(response.content)
                                     if response.content[:2] == b"\x1f\x8b" else response.content)
    mine = [f for f in tile["cameras_view"]["features"]
            if f["properties"]["code"] == "t-views-tile"]
    assert len(mine) == 1 and mine[0]["id"] == cam * 256
    props = mine[0]["properties"]
    assert (props["status"], props["kind"], props["view_no"]) == ("online", "tianwang", 0)
    assert props["visible_share"] == pytest.approx(1.0)
    grid = client.get(f"/tiles/cameras_view/16/{x}/{y}.mvt",
                      headers=bearer(client, "grid_worker"))
    assert grid.status_code == 403  # the cameras layer's roles
