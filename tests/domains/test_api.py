"""The domain routes (401/403/404/422, the bounded polygon body), the shipped views loaded
and prepared against the session's database, and the push on domains.kpis when a dataset a
view reads gets a new version (PostgreSQL's NOTIFY, the listener, the hub, a websocket)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.datasets.store import Row
from backend.domains.service import check_against, load_views
from backend.realtime.messages import DOMAIN_KPIS
from backend.settings import Settings
from tests.conftest import bearer, console, next_event
from tests.domains.fixtures import TZ, hours_back, written

SHIPPED = sorted(p.stem for p in Settings(env="test").domains_dir.glob("*.yaml"))


def test_the_shipped_views_load_and_prepare(app, client: TestClient,  # noqa: ANN001
                                            engine: sa.Engine, settings: Settings) -> None:
    views = load_views(settings, app.state.resources.catalog)
    assert sorted(views.ids) == SHIPPED and len(SHIPPED) >= 3
    check_against(engine, views, timeout_ms=10_000)  # raises with every problem
    for view in views.views:
        assert 4 <= len(view.spec.kpis) <= 6 and 2 <= len(view.spec.charts) <= 3, view.id


def test_the_list(client: TestClient, anonymous: TestClient) -> None:
    answer = client.get("/api/domains")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["carousel_s"] == 30
    ids = [d["id"] for d in body["domains"]]
    assert sorted(ids) == SHIPPED
    order = ["gov_services", "state_assets", "housing", "relocation", "key_projects",
             "culture_tourism", "food_prices", "rural_land"]
    assert ids == [i for i in order if i in ids]
    tour = body["domains"][ids.index("culture_tourism")]
    assert tour["title"] == {"zh": "文化旅游", "en": "Culture and tourism"}
    assert tour["department"] == {"code": "WLJ", "name": "泗县文化旅游体育局"}
    assert tour["kpis"][0]["id"] == "visitors_today"
    assert tour["kpis"][0]["reference"]["kind"] == "previous"
    assert tour["layers"] == ["scenic_spots", "cultural_events"]
    charts = {c["id"]: c for c in tour["charts"]}
    assert charts["top_spots"]["map"] == {"layer": "scenic_spots", "field": "name"}
    assert anonymous.get("/api/domains").status_code == 401
    worker = bearer(client, "grid_worker")
    assert client.get("/api/domains", headers=worker).status_code == 403
    viewer = bearer(client, "viewer")
    assert client.get("/api/domains/culture_tourism/figures", headers=viewer).status_code == 200


def test_figures_and_bad_areas(app, client: TestClient) -> None:  # noqa: ANN001
    county = client.get("/api/domains/culture_tourism/figures")
    assert county.status_code == 200, county.text
    assert county.json()["area"] is None and county.json()["domain"] == "culture_tourism"
    assert client.get("/api/domains/space_travel/figures").status_code == 404
    assert client.get("/api/domains/culture_tourism/figures",
                      params={"township": "341324999"}).status_code == 404
    counted = app.state.edge.rejected[("invalid_input", "domain_area")]
    for params in ({"bbox": "1,2,3"}, {"bbox": "118,33,117,34"}, {"bbox": "0,0,1,1"},
                   {"township": "34132"}, {"grid": "abc"},
                   {"bbox": "117.8,33.4,117.9,33.5", "township": "341324100"}):
        answer = client.get("/api/domains/culture_tourism/figures", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert isinstance(answer.json()["detail"], str)
    assert app.state.edge.rejected[("invalid_input", "domain_area")] == counted + 6
    cut = client.get("/api/domains/culture_tourism/figures",
                     params={"bbox": "117.8,33.4,117.9,33.5"}).json()
    assert cut["area"] == {"kind": "bbox", "bbox": [117.8, 33.4, 117.9, 33.5]}


def test_the_polygon_body(client: TestClient) -> None:
    url = "/api/domains/food_prices/figures"
    ring = [[117.8, 33.4], [117.9, 33.4], [117.9, 33.5], [117.8, 33.4]]
    good = client.post(url, json={"polygon": {"type": "Polygon", "coordinates": [ring]}})
    assert good.status_code == 200, good.text
    assert good.json()["area"] == {"kind": "polygon", "vertices": 4}
    for polygon, words in (
            ({"type": "Point", "coordinates": [117.8, 33.4]}, "Polygon or MultiPolygon"),
            ({"type": "Polygon", "coordinates": [ring[:-1] + [[117.85, 33.45]]]}, "not closed"),
            ({"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1]]]},
             "outside the map"),
            ({"type": "Polygon", "coordinates": [[[118, 33]] * 5001]}, "5000 vertices")):
        answer = client.post(url, json={"polygon": polygon})
        assert answer.status_code == 422 and words in answer.json()["detail"], answer.text
    assert client.post(url, json={"polygon": {}, "colour": 1}).status_code == 422
    big = {"polygon": {"type": "Polygon", "coordinates": [[[117.812345678, 33.412345678]] *
                                                          3000]}}
    answer = client.post(url, json=big)
    assert answer.status_code == 413 and "CITYOPS_DOMAIN_AREA_MAX_BYTES" in answer.text


def test_a_new_version_is_pushed(app, client: TestClient,  # noqa: ANN001
                                 engine: sa.Engine) -> None:
    hour = hours_back(datetime.now(TZ), 1)[0]
    row = Row("push1", {"record_id": "push1", "spot_id": "S1", "township_code": "341324100",
                        "hour": hour.isoformat(), "visitors": 7, "in_park": 3})
    with console(client, DOMAIN_KPIS) as ws, written(engine, {"visitor_flow": [row]}):
        while True:
            event = next_event(ws)
            data = event["data"]
            if data["domain"] != "culture_tourism":
                continue
            cards = {c["id"]: c for c in data["cards"]}
            if cards["visitors_today"]["value"] == 7:
                break
        assert event["channel"] == DOMAIN_KPIS and data["area"] is None
        assert cards["in_park_now"]["value"] == 3
        # GET without an area answers the pushed figures
        got = client.get("/api/domains/culture_tourism/figures").json()
        assert got["computed_at"] == data["computed_at"]
