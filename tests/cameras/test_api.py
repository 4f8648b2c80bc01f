"""The camera registry over HTTP: the page and its filters, one camera with its presets, and
who may read cameras (the roles that see the cameras layer, also those its YAML names)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.settings import Settings
from tests.conftest import ROOT, bearer

REQUIRED = {"code", "name", "kind", "status", "lon", "lat", "heading_deg", "fov_deg",
            "has_stream", "presets"}


def test_the_page_lists_the_registry_by_code(video_client: TestClient,
                                             video_cameras: list[dict]) -> None:
    answer = video_client.get("/api/cameras", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == len(video_cameras)
    codes = [c["code"] for c in body["cameras"]]
    assert codes == [c["code"] for c in video_cameras]
    first = body["cameras"][0]
    assert set(first) >= REQUIRED
    assert first["presets"] == []
    assert first["has_stream"] is False  # builtin kind, and no test stream made for it
    assert abs(first["lon"] - video_cameras[0]["lon"]) < 1e-9


def test_paging_is_bounded(video_client: TestClient, video_cameras: list[dict]) -> None:
    page = video_client.get("/api/cameras", params={"limit": 2, "offset": 2}).json()
    assert [c["code"] for c in page["cameras"]] == [c["code"] for c in video_cameras[2:4]]
    assert (page["limit"], page["offset"], page["total"]) == (2, 2, len(video_cameras))
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"offset": 10**7}):
        assert video_client.get("/api/cameras", params=bad).status_code == 422, bad


def test_filters_by_bbox_status_and_kind(video_client: TestClient,
                                         video_cameras: list[dict]) -> None:
    one = video_cameras[0]
    box = f"{one['lon'] - 1e-4},{one['lat'] - 1e-4},{one['lon'] + 1e-4},{one['lat'] + 1e-4}"
    near = video_client.get("/api/cameras", params={"bbox": box}).json()["cameras"]
    assert one["code"] in [c["code"] for c in near]
    assert all(abs(c["lon"] - one["lon"]) <= 1e-4 for c in near)

    status = one["status"]
    same = video_client.get("/api/cameras", params={"status": status, "limit": 1000}).json()
    assert same["total"] == sum(c["status"] == status for c in video_cameras)
    assert {c["status"] for c in same["cameras"]} == {status}
    both = video_client.get("/api/cameras?status=online&status=offline&limit=1000").json()
    assert both["total"] == sum(c["status"] in ("online", "offline") for c in video_cameras)

    kind = one["kind"]
    kinds = video_client.get("/api/cameras", params={"kind": kind, "limit": 1000}).json()
    assert kinds["total"] == sum(c["kind"] == kind for c in video_cameras)

    assert video_client.get("/api/cameras", params={"status": "burning"}).status_code == 422
    assert video_client.get("/api/cameras", params={"kind": "cctv"}).status_code == 422
    refused = video_client.get("/api/cameras", params={"bbox": "118,33,117,34"})
    assert refused.status_code == 400
    assert "west < east" in refused.json()["detail"]


def test_one_camera_with_its_presets(video_client: TestClient, engine: Engine,
                                     video_cameras: list[dict]) -> None:
    code = video_cameras[1]["code"]
    with engine.begin() as conn:
        camera_id = conn.execute(sa.text("SELECT id FROM cameras WHERE code = :c"),
                                 {"c": code}).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO camera_presets (camera_id, preset_no, name, heading_deg, fov_deg, "
            "range_m) VALUES (:i, 2, '北口', 10, 40, 120), (:i, 1, '路口', 200, 60, NULL) "
            "ON CONFLICT DO NOTHING"), {"i": camera_id})
    try:
        answer = video_client.get(f"/api/cameras/{code}")
        assert answer.status_code == 200, answer.text
        camera = answer.json()
        assert camera["code"] == code
        assert [(p["preset_no"], p["name"], p["heading_deg"]) for p in camera["presets"]] == [
            (1, "路口", 200.0), (2, "北口", 10.0)]
        assert camera["presets"][0]["range_m"] is None
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM camera_presets WHERE camera_id = :i"),
                         {"i": camera_id})


def test_an_unknown_or_malformed_code(video_client: TestClient) -> None:
    missing = video_client.get("/api/cameras/34132400001329999999")
    assert missing.status_code == 404
    assert "34132400001329999999" in missing.json()["detail"]
    for bad in ("3413240000132000000", "34132400001320000001x", "abc"):
        assert video_client.get(f"/api/cameras/{bad}").status_code == 422, bad


@pytest.mark.parametrize(("role", "status"), [
    ("grid_worker", 403), ("traffic_police", 200), ("dispatcher", 200), ("commander", 200),
    ("supervisor", 403), ("viewer", 403)])
def test_who_reads_cameras(video_client: TestClient, video_cameras: list[dict], role: str,
                           status: int) -> None:
    headers = bearer(video_client, role)
    code = video_cameras[0]["code"]
    assert video_client.get("/api/cameras", headers=headers).status_code == status
    assert video_client.get(f"/api/cameras/{code}", headers=headers).status_code == status
    assert video_client.get("/api/cameras/alarms", headers=headers).status_code == status


def test_a_role_the_cameras_layer_names_reads_cameras(
        video_settings: Settings, tmp_path: Path, video_cameras: list[dict]) -> None:
    """The supervisor has no cameras:read of its own; a cameras layer that names it grants
    it (the layer YAML is the one place that widens who sees cameras)."""
    from backend.main import create_app

    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    yaml = layers / "public_safety" / "cameras.yaml"
    text = yaml.read_text(encoding="utf-8")
    assert "roles: [commander, dispatcher, traffic_police, admin]" in text
    yaml.write_text(text.replace("roles: [commander,", "roles: [supervisor, commander,"),
                    encoding="utf-8")
    with TestClient(create_app(video_settings.model_copy(update={"layers_dir": layers}))) as c:
        supervisor = bearer(c, "supervisor")
        answer = c.get("/api/cameras", headers=supervisor)
        assert answer.status_code == 200, answer.text
        assert answer.json()["total"] == len(video_cameras)
        assert c.get("/api/cameras", headers=bearer(c, "grid_worker")).status_code == 403
        # a right to read, not to handle: acknowledging stays with commanders and dispatchers
        assert c.post("/api/cameras/alarms/1/ack", headers=supervisor).status_code == 403
