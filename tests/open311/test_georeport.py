"""Open311 GeoReport v2 through the real app and PostGIS: a request posted by an api client
goes the whole case flow and is read back open, then closed, in JSON and XML, without the
reporter's contact details; keys, bad input, the 90-day window and sensitive categories."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.open311.keys import add_key, disable_key
from backend.open311.rules import Open311Error, coarse, parse_search
from backend.settings import Settings
from tests.conftest import bearer, console, next_event
from tests.test_cli import cityops

SEAT = (117.88003, 33.47922)  # lon, lat of the county seat
CONTACT = {"first_name": "晓明", "last_name": "王", "phone": "13811112222",
           "email": "wang.xm@example.cn"}
SECRETS = ("13811112222", "wang.xm", "晓明", "1111")
FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code",
          "description", "agency_responsible", "requested_datetime", "updated_datetime",
          "expected_datetime", "address", "lat", "long", "media_url")


def _key(engine: sa.Engine, name: str) -> str:
    with engine.begin() as conn:
        return add_key(conn, name)


@pytest.fixture(scope="module")
def api_key(engine: sa.Engine) -> str:
    return _key(engine, f"t311-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def as_(client: TestClient, engine: sa.Engine) -> dict[str, dict[str, str]]:
    """Bearer headers per role; the handler works for 县环境卫生管理所 (HWS, E0101's unit)."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET department = 'HWS' "
                             "WHERE username = 'department_handler'"))
    return {r: bearer(client, r) for r in ("supervisor", "dispatcher", "department_handler",
                                           "grid_worker", "admin")}


def post(anonymous: TestClient, fields: dict[str, str], suffix: str = ".json"):  # noqa: ANN201
    return anonymous.post(f"/open311/v2/requests{suffix}", data=fields)


def submit(anonymous: TestClient, api_key: str, **extra: str) -> dict:
    fields = {"api_key": api_key, "service_code": "E0101", "lat": str(SEAT[1]),
              "long": str(SEAT[0]), "description": "小区门口垃圾满溢", **extra}
    response = post(anonymous, fields)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    [made] = response.json()
    return made


def xml_requests(anonymous: TestClient, path: str) -> list[dict[str, str]]:
    response = anonymous.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(response.content)
    assert root.tag == "service_requests"
    return [{child.tag: child.text or "" for child in item} for item in root.findall("request")]


def assert_no_contact(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret
    assert "reporter" not in text and "email" not in text and "phone" not in text


def test_an_open311_request_goes_round_trip(
    client: TestClient, anonymous: TestClient, api_key: str, as_: dict[str, dict[str, str]],
    engine: sa.Engine,
) -> None:
    made = submit(anonymous, api_key, address_string="泗县城区 汴河大道 1 号",
                  media_url="https://photos.example.cn/a/1.jpg", device_id="dev-1",
                  account_id="acct-9", **{"attribute[size]": "large"}, **CONTACT)
    request_id, token = made["service_request_id"], made["token"]
    assert request_id.isdigit() and "SX" in made["service_notice"]

    by_token = anonymous.get(f"/open311/v2/tokens/{token}.json")
    assert by_token.status_code == 200
    assert by_token.json() == [{"service_request_id": request_id, "token": token}]

    opened = anonymous.get(f"/open311/v2/requests/{request_id}.json")
    assert opened.status_code == 200
    assert_no_contact(opened.text)
    [req] = opened.json()
    assert set(FIELDS) <= set(req)
    assert req["status"] == "open" and req["status_notes"] == "已上报 · reported"
    assert req["service_code"] == "E0101" and req["service_name"] == "暴露垃圾"
    assert req["agency_responsible"] == "县环境卫生管理所"
    assert req["description"] == "小区门口垃圾满溢"
    assert req["media_url"] == "https://photos.example.cn/a/1.jpg"
    assert req["address"] == "泗县城区 汴河大道 1 号"
    assert (req["long"], req["lat"]) == SEAT
    assert req["requested_datetime"].endswith("+08:00")
    assert req["expected_datetime"] is None  # no clock runs before dispatch

    # The case itself: reported by the api client, contact details kept for staff.
    case = client.get(f"/api/incidents/{request_id}", headers=as_["admin"]).json()
    assert case["source"] == "open311" and case["reporter_phone"] == "13811112222"
    assert case["timeline"][0]["actor"].startswith("open311:t311-")
    assert "https://photos.example.cn/a/1.jpg" in case["description"]
    with engine.connect() as conn:
        audited = conn.execute(sa.text(
            "SELECT actor FROM audit_log WHERE action = 'incident.report' AND entity_id = :i"),
            {"i": request_id}).scalar_one()
        used = conn.execute(sa.text(
            "SELECT requests_total FROM api_clients WHERE name = :n"),
            {"n": audited.removeprefix("open311:")}).scalar_one()
    assert audited == case["timeline"][0]["actor"] and used >= 1

    # Through the flow by the right hands; an Open311 case has no reporter user to verify.
    def act(who: str, action: str, **body: object) -> dict:
        response = client.post(f"/api/incidents/{request_id}/actions/{action}", json=body,
                               headers=as_[who])
        assert response.status_code == 200, (action, response.text)
        return response.json()

    act("supervisor", "file")
    act("dispatcher", "dispatch")
    act("department_handler", "accept")
    act("department_handler", "start")
    [working] = anonymous.get(f"/open311/v2/requests/{request_id}.json").json()
    assert working["status"] == "open" and working["status_notes"] == "处置中 · in progress"
    assert working["expected_datetime"] is not None
    act("department_handler", "handle", note="已清运")
    act("supervisor", "send_to_verify", verifier="grid_worker")
    act("grid_worker", "confirm", note="现场已干净")

    [closed] = anonymous.get(f"/open311/v2/requests/{request_id}.json").json()
    assert closed["status"] == "closed" and closed["status_notes"] == "已结案 · closed"
    assert closed["updated_datetime"] >= closed["requested_datetime"]

    # XML carries the same fields and values.
    [as_xml] = xml_requests(anonymous, f"/open311/v2/requests/{request_id}.xml")
    assert set(FIELDS) <= set(as_xml)
    for field in FIELDS:
        expected = closed[field]
        assert as_xml[field] == ("" if expected is None else str(expected)), field
    raw_xml = anonymous.get(f"/open311/v2/requests/{request_id}.xml").text
    assert_no_contact(raw_xml)

    # The search finds it by id, by status and by code, and never shows contacts.
    listed = anonymous.get("/open311/v2/requests.json",
                           params={"service_request_id": f"{request_id},999999999"})
    assert [r["service_request_id"] for r in listed.json()] == [request_id]
    closed_ones = anonymous.get("/open311/v2/requests.json",
                                params={"status": "closed", "service_code": "E0101"})
    assert request_id in {r["service_request_id"] for r in closed_ones.json()}
    assert_no_contact(closed_ones.text)
    open_ones = anonymous.get("/open311/v2/requests", params={"status": "open"}).json()
    assert request_id not in {r["service_request_id"] for r in open_ones}
    everything = xml_requests(anonymous, "/open311/v2/requests.xml")
    assert request_id in {r["service_request_id"] for r in everything}


def test_discovery_and_services_in_both_formats(anonymous: TestClient) -> None:
    discovery = anonymous.get("/open311/v2/discovery.json").json()
    [endpoint] = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and "text/xml" in endpoint["formats"]
    root = ET.fromstring(anonymous.get("/open311/v2/discovery.xml").content)
    assert root.tag == "discovery"
    assert [f.text for f in root.iter("format")] == endpoint["formats"]
    assert anonymous.get("/open311/v2/discovery").json() == discovery

    services = anonymous.get("/open311/v2/services.json").json()
    by_code = {s["service_code"]: s for s in services}
    assert by_code["E0101"]["service_name"] == "暴露垃圾"
    assert by_code["E0101"]["group"].startswith("事件 · ")
    assert by_code["C0101"]["group"].startswith("部件 · ")
    assert all(s["metadata"] is False and s["type"] == "realtime" for s in services)
    root = ET.fromstring(anonymous.get("/open311/v2/services.xml").content)
    assert root.tag == "services"
    xml_services = {s.findtext("service_code"): s for s in root.findall("service")}
    assert set(xml_services) == set(by_code)
    assert xml_services["E0101"].findtext("metadata") == "false"
    assert xml_services["E0101"].findtext("service_name") == "暴露垃圾"

    definition = anonymous.get("/open311/v2/services/E0101.json")
    assert definition.json() == {"service_code": "E0101", "attributes": []}
    root = ET.fromstring(anonymous.get("/open311/v2/services/E0101.xml").content)
    assert root.tag == "service_definition" and root.findtext("service_code") == "E0101"
    assert root.find("attributes") is not None and len(root.find("attributes")) == 0
    missing = anonymous.get("/open311/v2/services/X9999.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404 and "services.json" in missing.json()[0]["description"]


def test_posting_needs_a_valid_api_key_not_a_user(
    client: TestClient, anonymous: TestClient, engine: sa.Engine, api_key: str
) -> None:
    fields = {"service_code": "E0101", "lat": str(SEAT[1]), "long": str(SEAT[0]),
              "description": "test"}
    in_url = anonymous.post("/open311/v2/requests.json", params={"api_key": api_key},
                            data=fields)
    assert in_url.status_code == 401  # a key in the URL would sit in access logs
    bad = post(anonymous, {**fields, "api_key": "not-a-key"})
    assert bad.status_code == 403
    [error] = bad.json()
    assert error["code"] == 403 and "api_key" in error["description"]
    none = post(anonymous, fields)
    assert none.status_code == 401 and none.json()[0]["code"] == 401
    admin = anonymous.post("/open311/v2/requests.json", data=fields,
                           headers=bearer(client, "admin"))
    assert admin.status_code == 403 and "not a user" in admin.json()[0]["description"]

    as_xml = post(anonymous, {**fields, "api_key": "not-a-key"}, suffix=".xml")
    assert as_xml.status_code == 403
    root = ET.fromstring(as_xml.content)
    assert root.tag == "errors" and root.find("error").findtext("code") == "403"

    name = f"t311-off-{uuid.uuid4().hex[:6]}"
    key = _key(engine, name)
    assert post(anonymous, {**fields, "api_key": key}).status_code == 201
    with engine.begin() as conn:
        disable_key(conn, name)
    assert post(anonymous, {**fields, "api_key": key}).status_code == 403

    # JSON bodies are accepted too.
    key = _key(engine, f"t311-json-{uuid.uuid4().hex[:6]}")
    made = anonymous.post("/open311/v2/requests", json={
        "api_key": key, "service_code": "E0101", "lat": SEAT[1], "long": SEAT[0]})
    assert made.status_code == 201, made.text
    [reply] = made.json()
    [req] = anonymous.get(f"/open311/v2/requests/{reply['service_request_id']}").json()
    assert req["description"] == "暴露垃圾(Open311)"  # no description: the service's name


@pytest.mark.parametrize(("fields", "status", "says"), [
    ({"address_string": "泗县汴河大道 1 号"}, 400, "location"),
    ({"lat": "33.47922"}, 400, "both lat and long"),
    ({"lat": "north", "long": "117.88"}, 400, "lat must be a number"),
    ({"lat": "31.0", "long": "121.0"}, 400, "outside the county"),
    ({"service_code": "E9999"}, 400, "not a service"),
    ({"service_code": ""}, 400, "service_code is required"),
    ({"description": "x" * 4001}, 400, "at most 4000"),
    ({"media_url": "ftp://example.cn/a.jpg"}, 400, "media_url"),
    ({"email": "not-an-address"}, 400, "email"),
])
def test_bad_requests_are_answered_as_error_lists(
    anonymous: TestClient, api_key: str, fields: dict[str, str], status: int, says: str
) -> None:
    base = {"api_key": api_key, "service_code": "E0101", "lat": str(SEAT[1]),
            "long": str(SEAT[0]), "description": "test"}
    body = {**base, **fields}
    if "address_string" in fields:
        body.pop("lat"), body.pop("long")
    if fields.get("lat") and "long" not in fields:
        body.pop("long")
    response = post(anonymous, body)
    assert response.status_code == status, response.text
    [error] = response.json()
    assert error["code"] == status and says in error["description"], error


def test_search_window_and_lookups(anonymous: TestClient) -> None:
    now = datetime.now(UTC)
    too_wide = anonymous.get("/open311/v2/requests.json", params={
        "start_date": (now - timedelta(days=91)).isoformat(), "end_date": now.isoformat()})
    assert too_wide.status_code == 400 and "90 days" in too_wide.json()[0]["description"]
    ok = anonymous.get("/open311/v2/requests.json", params={
        "start_date": (now - timedelta(days=90)).isoformat(), "end_date": now.isoformat()})
    assert ok.status_code == 200 and isinstance(ok.json(), list)
    naive = anonymous.get("/open311/v2/requests.json", params={"start_date": "2026-11-01T00:00"})
    assert naive.status_code == 400 and "time zone" in naive.json()[0]["description"]
    assert anonymous.get("/open311/v2/requests.json",
                         params={"status": "pending"}).status_code == 400
    old = anonymous.get("/open311/v2/requests.xml", params={
        "start_date": "2020-01-01T00:00:00Z", "end_date": "2020-02-01T00:00:00Z"})
    assert old.status_code == 200 and ET.fromstring(old.content).findall("request") == []
    unknown = anonymous.get("/open311/v2/requests/999999999.xml")
    assert unknown.status_code == 404
    assert ET.fromstring(unknown.content).find("error").findtext("code") == "404"
    assert anonymous.get("/open311/v2/tokens/no-such-token.json").status_code == 404
    assert anonymous.get("/open311/v2/requests.csv").status_code == 400


def test_a_sensitive_category_is_coarsened_and_its_address_hidden(
    anonymous: TestClient, api_key: str
) -> None:
    made = submit(anonymous, api_key, service_code="E0503", description="闻到燃气味",
                  address_string="汴河大道 88 号 3 单元")
    rid = made["service_request_id"]
    [req] = anonymous.get(f"/open311/v2/requests/{rid}.json").json()
    assert req["service_name"] == "燃气泄漏"
    assert (req["lat"], req["long"]) == (33.48, 117.88)  # rounded to the 0.01° lattice
    assert req["address"] is None
    [as_xml] = xml_requests(anonymous, f"/open311/v2/requests/{rid}.xml")
    assert as_xml["address"] == "" and as_xml["lat"] == "33.48"
    assert "88 号" not in anonymous.get(f"/open311/v2/requests/{rid}.xml").text
    listed = anonymous.get("/open311/v2/requests.json", params={"service_code": "E0503"})
    assert all(r["address"] is None and r["lat"] == coarse(r["lat"]) for r in listed.json())


def test_the_window_rules() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    default = parse_search(service_request_id=None, service_code=None, start_date=None,
                           end_date=None, status=None, now=now)
    assert default.end == now and default.end - default.start == timedelta(days=90)
    from_start = parse_search(service_request_id=None, service_code=None,
                              start_date="2026-01-01T00:00:00+08:00", end_date=None,
                              status="open,closed", now=now)
    assert from_start.end - from_start.start == timedelta(days=90)
    ids = parse_search(service_request_id="3,1,3", service_code="bad", start_date="x",
                       end_date=None, status=None, now=now)
    assert ids.ids == (3, 1)  # ids override every other filter
    with pytest.raises(Open311Error, match="before start_date"):
        parse_search(service_request_id=None, service_code=None,
                     start_date="2026-02-01T00:00:00Z", end_date="2026-01-01T00:00:00Z",
                     status=None, now=now)


def test_the_key_commands(settings: Settings, anonymous: TestClient) -> None:
    name = f"t311-cli-{uuid.uuid4().hex[:6]}"
    made = cityops(settings, "open311", "add-key", name)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert len(key) == 43  # 32 random bytes, URL-safe base64
    assert submit(anonymous, key)["service_request_id"].isdigit()
    again = cityops(settings, "open311", "add-key", name)
    assert again.returncode == 2 and "already exists" in again.stderr
    listed = cityops(settings, "open311", "list-keys")
    [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(name)]
    assert "active" in line and "1 requests" in line and key not in listed.stdout


def test_a_posted_request_appears_live_on_the_consoles(
    client: TestClient, anonymous: TestClient, api_key: str
) -> None:
    with console(client, "incidents.changes") as ws:
        made = submit(anonymous, api_key)
        event = next_event(ws)["data"]
    assert event["id"] == int(made["service_request_id"]) and event["action"] == "report"
    assert event["actor"].startswith("open311:") and event["state"] == "reported"
    assert "phone" not in event and "reporter_phone" not in event
