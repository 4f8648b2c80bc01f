"""Situation snapshots through the real app and PostGIS: one is taken, kept, registered,
audited, listed and downloaded; what it holds follows the caller's rights (masked reporters,
no vehicles or cases without their rights); bad requests are refused with a message and
counted; only snapshots:create holders reach any of it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.settings import Settings
from tests.conftest import TEST_INGEST_TOKEN, bearer
from tests.domains.fixtures import flow, places, spots, written

SEAT = (117.88003, 33.47922)
AROUND_SEAT = [117.84, 33.45, 117.92, 33.51]
VEHICLE = "SNAP-BUS-1"


@pytest.fixture(scope="module")
def as_(client: TestClient) -> dict[str, dict[str, str]]:
    return {role: bearer(client, role) for role in ("viewer", "commander", "grid_worker",
                                                    "data_bureau")}


@pytest.fixture(scope="module")
def situation(client: TestClient, as_: dict[str, dict[str, str]]) -> dict:
    """A case with a reporter's phone and a vehicle's fix near the county seat."""
    case = client.post("/api/incidents", json={
        "category_code": "E0101", "description": "快照测试 路边暴露垃圾", "lon": SEAT[0],
        "lat": SEAT[1], "reporter_phone": "13987654321"})
    assert case.status_code in (200, 201), case.text
    fix = client.post("/api/ingest/positions", headers={
        "Authorization": f"Bearer {TEST_INGEST_TOKEN}"}, json={"positions": [{
            "vehicle_id": VEHICLE, "time": datetime.now(UTC).isoformat(), "lon": SEAT[0] + 0.01,
            "lat": SEAT[1], "speed_kmh": 20.0, "heading_deg": 90.0}]})
    assert fix.status_code == 200 and fix.json()["accepted"] == 1, fix.text
    return case.json()


@pytest.fixture()
def kept(settings: Settings) -> Iterator[list[str]]:
    """File names the test made: removed from var/snapshots afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        (settings.var_dir / "snapshots" / name).unlink(missing_ok=True)


def take(client: TestClient, who: dict[str, str], kept: list[str], **body: object) -> dict:
    response = client.post("/api/snapshots", headers=who, json={
        "view": "overview", "bbox": AROUND_SEAT, "zoom": 13, "lang": "zh", **body})
    assert response.status_code == 201, response.text
    kept.append(response.json()["file_name"])
    return response.json()


def test_a_snapshot_is_kept_registered_audited_listed_and_downloaded(
        client: TestClient, engine: sa.Engine, settings: Settings, situation: dict,
        as_: dict[str, dict[str, str]], kept: list[str]) -> None:
    made = take(client, as_["viewer"], kept)
    assert made["view"] == "overview" and made["url"] == f"/api/snapshots/{made['id']}/file"
    assert made["created_by"] == "viewer" and made["file_name"].endswith(".html")
    path = settings.var_dir / "snapshots" / made["file_name"]
    data = path.read_bytes()
    assert len(data) == made["bytes"] and hashlib.sha256(data).hexdigest() == made["sha256"]

    listed = client.get("/api/snapshots", headers=as_["viewer"]).json()["snapshots"]
    assert listed[0]["id"] == made["id"]  # newest first

    download = client.get(made["url"], headers=as_["data_bureau"])
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-disposition"].startswith("attachment")
    assert made["file_name"] in download.headers["content-disposition"]
    assert download.headers["content-type"].startswith("text/html")

    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT actor, data FROM audit_log WHERE action = 'snapshot.create' "
            "AND entity_id = :id"), {"id": str(made["id"])}).one()
    assert row.actor == "viewer"
    assert row.data["sha256"] == made["sha256"] and row.data["view"] == "overview"
    assert row.data["bbox"] == AROUND_SEAT and row.data["file"] == made["file_name"]


def test_the_file_holds_the_view_with_the_callers_rights(
        client: TestClient, settings: Settings, situation: dict,
        as_: dict[str, dict[str, str]], kept: list[str]) -> None:
    # The commander may read personal data in full, but a file is a list: masked.
    made = take(client, as_["commander"], kept)
    html = (settings.var_dir / "snapshots" / made["file_name"]).read_text()
    assert situation["case_no"] in html and VEHICLE in html
    assert "13987654321" not in html and "139****4321" in html
    assert "示意" in html and "测试 commander" in html  # the label, the user
    # nothing to fetch: no element loads a script, a stylesheet or an image from anywhere
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", html)
    # deck.gl is in the file itself (pydeck's bundle), the map has the county and townships
    assert "createDeck" in html and '"id": "townships"' not in html  # compact JSON
    assert '"id":"townships"' in html and '"id":"county"' in html

    # data_bureau has snapshots:create but neither vehicles:read nor incidents:read
    made = take(client, as_["data_bureau"], kept, lang="en")
    html = (settings.var_dir / "snapshots" / made["file_name"]).read_text()
    assert VEHICLE not in html and situation["case_no"] not in html
    assert "needs vehicles:read" in html and "needs incidents:read" in html
    assert '<html lang="en">' in html


@pytest.mark.parametrize(("change", "message"), [
    ({"bbox": [117.9, 33.4, 117.8, 33.5]}, "west must be less than east"),
    ({"bbox": [100.0, 20.0, 130.0, 50.0]}, "far larger than the county"),
    ({"bbox": [120.0, 30.0, 120.1, 30.1]}, "does not overlap the county"),
    ({"view": "no_such_view"}, "no_such_view"),
])
def test_bad_requests_are_refused_with_a_message_and_counted(
        client: TestClient, as_: dict[str, dict[str, str]], change: dict, message: str) -> None:
    edge = client.app.state.edge.rejected
    before = edge[("invalid_input", "snapshot")]
    response = client.post("/api/snapshots", headers=as_["viewer"], json={
        "view": "overview", "bbox": AROUND_SEAT, "zoom": 12, **change})
    assert response.status_code in (404, 422), response.text
    assert message in response.text
    if response.status_code == 422:
        assert edge[("invalid_input", "snapshot")] == before + 1


@pytest.mark.parametrize("body", [
    {"view": "overview", "bbox": AROUND_SEAT, "zoom": 23},
    {"view": "overview", "bbox": [1, 2, 3], "zoom": 12},
    {"view": "Overview!", "bbox": AROUND_SEAT, "zoom": 12},
    {"view": "overview", "bbox": AROUND_SEAT, "zoom": 12, "lang": "fr"},
    {"view": "overview", "bbox": AROUND_SEAT, "zoom": 12, "extra": 1},
])
def test_malformed_bodies_are_422(client: TestClient, as_: dict[str, dict[str, str]],
                                  body: dict) -> None:
    response = client.post("/api/snapshots", headers=as_["viewer"], json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"]


def test_only_snapshot_makers_reach_snapshots(client: TestClient, anonymous: TestClient,
                                              as_: dict[str, dict[str, str]]) -> None:
    body = {"view": "overview", "bbox": AROUND_SEAT, "zoom": 12}
    assert anonymous.post("/api/snapshots", json=body).status_code == 401
    assert anonymous.get("/api/snapshots").status_code == 401
    assert client.post("/api/snapshots", json=body,
                       headers=as_["grid_worker"]).status_code == 403
    assert client.get("/api/snapshots", headers=as_["grid_worker"]).status_code == 403
    assert client.get("/api/snapshots/1/file", headers=as_["grid_worker"]).status_code == 403
    assert client.get("/api/snapshots/999999/file", headers=as_["viewer"]).status_code == 404


def test_a_snapshot_whose_file_is_gone_answers_404(
        client: TestClient, settings: Settings, as_: dict[str, dict[str, str]],
        kept: list[str]) -> None:
    made = take(client, as_["viewer"], kept)
    Path(settings.var_dir / "snapshots" / made["file_name"]).unlink()
    response = client.get(made["url"], headers=as_["viewer"])
    assert response.status_code == 404 and "no longer kept" in response.text


def test_a_domain_view_holds_its_layers_and_its_cards_for_the_area(
        client: TestClient, engine: sa.Engine, settings: Settings,
        as_: dict[str, dict[str, str]], kept: list[str]) -> None:
    p = places(engine)
    with engine.connect() as conn:
        rows = spots(conn, p)
    with written(engine, {"scenic_spots": rows, "visitor_flow": flow(p, datetime.now(UTC))}):
        box = client.get("/api/domains", headers=as_["viewer"]).json()
        view = next(d for d in box["domains"] if d["id"] == "culture_tourism")
        figures = client.get("/api/domains/culture_tourism/figures",
                             params={"township": p.t1}, headers=as_["viewer"]).json()
        made = take(client, as_["viewer"], kept, view="culture_tourism",
                    bbox=[117.63, 33.28, 118.18, 33.77], zoom=10.5,
                    area={"township": p.t1})
    assert made["view"] == "culture_tourism" and made["title"].startswith("文化旅游")
    html = (settings.var_dir / "snapshots" / made["file_name"]).read_text()
    # every card of the view, with the value the figures endpoint gives for that township
    for kpi in view["kpis"]:
        assert f'data-card="{kpi["id"]}"' in html
    card = next(c for c in figures["cards"] if c["id"] == "visitors_today")
    assert card["available"] and card["filtered"]
    assert f'{card["value"]:,.0f} <span class="unit">' in html
    # the view's layer with the three spots (the map's extent is the county); no overview layer
    assert '<b data-layer="scenic_spots">3</b>' in html and "运河遗址" in html
    assert 'data-layer="roads"' not in html
    assert "township" in html and p.t1 in html  # the figures' area is named
    with engine.connect() as conn:
        audited = conn.execute(sa.text(
            "SELECT data FROM audit_log WHERE action = 'snapshot.create' AND entity_id = :id"),
            {"id": str(made["id"])}).scalar_one()
    assert audited["area"] == {"township": p.t1} and audited["view"] == "culture_tourism"


def test_a_bad_area_is_refused_like_the_figures(client: TestClient,
                                                as_: dict[str, dict[str, str]]) -> None:
    def post(area: dict) -> object:
        return client.post("/api/snapshots", headers=as_["viewer"], json={
            "view": "culture_tourism", "bbox": AROUND_SEAT, "zoom": 12, "area": area})

    assert post({"township": "999999999"}).status_code == 404
    two = post({"township": "341324100", "grid": "341324100000000"})
    assert two.status_code == 422 and "exactly one" in two.text
    open_ring = post({"polygon": {"type": "Polygon", "coordinates": [
        [[117.8, 33.4], [117.9, 33.4], [117.9, 33.5], [117.85, 33.5]]]}})
    assert open_ring.status_code == 422 and "not closed" in open_ring.text
