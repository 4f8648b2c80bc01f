"""The HTTP edge under hostile input (issue 8: defects 1, 4, 5, 12, 14), against the real app:
bodies bounded before parsing, 422s that never echo input, control characters refused for
every text input, times and numbers bounded, security headers, and an OpenAPI document that
says what the server does. The reproducers of the issue are the inputs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from backend.settings import Settings
from tests.conftest import serve_app

HUGE = "9223372036854775808"  # one past bigint
BEYOND = "2026-01-01T00:00:00+16:00"  # Python takes it, PostgreSQL refuses it


@pytest.fixture(scope="module")
def edge_server(settings: Settings, county: dict, users: dict) -> Iterator[tuple[str, object]]:
    """A live uvicorn with its own app instance: (base URL, app) so counters can be read."""
    from backend.main import create_app

    app = create_app(settings)
    with serve_app(app) as base:
        yield base, app


def raw_request(base: str, head: str, body: bytes, *, chunked: bool = False) -> bytes:
    """Send a request over a plain socket (as much of the body as the server takes) and read
    the answer: a server that refuses early may close before the body is all sent."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.encode())
        step = 64 * 1024
        try:
            for i in range(0, len(body), step):
                part = body[i:i + step]
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: read what it said
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < 200:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
        return answer


# 1. Request size -----------------------------------------------------------------------------

def test_an_8mb_login_body_is_refused_with_413_and_health_keeps_answering(
    edge_server: tuple[str, object],
) -> None:
    base, app = edge_server
    body = b'{"username":"' + b"a" * (8 * 1024 * 1024) + b'","password":"x"}'
    head = (f"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    answers: list[bytes] = []
    health: list[int] = []

    def flood() -> None:
        for _ in range(3):
            answers.append(raw_request(base, head, body))

    thread = threading.Thread(target=flood)
    thread.start()
    with httpx.Client(base_url=base, timeout=10) as http:
        while thread.is_alive() or len(health) < 5:
            health.append(http.get("/api/health").status_code)
            time.sleep(0.01)
    thread.join()
    assert len(answers) == 3
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
        assert b"64 KiB" in answer and b"CITYOPS_JSON_BODY_MAX_BYTES" in answer
        assert b"aaaaaaaa" not in answer  # nothing of the input comes back
    assert health and set(health) == {200}
    assert app.state.edge.rejected[("body_too_large", "JSON API request")] >= 3


def test_a_chunked_body_is_cut_off_when_it_passes_the_limit(
    edge_server: tuple[str, object],
) -> None:
    base, app = edge_server
    before = app.state.edge.rejected[("body_too_large", "JSON API request")]
    head = ("POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n")
    answer = raw_request(base, head, b"[" + b"1," * (1024 * 1024) + b"1]", chunked=True)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert app.state.edge.rejected[("body_too_large", "JSON API request")] == before + 1


def test_gps_batches_and_photos_have_their_own_larger_limits(client: TestClient) -> None:
    # 200 KiB is over the JSON API limit but within a GPS batch's: it reaches validation.
    record = {"vehicle_id": "edge-bus", "time": "2026-11-24T08:00:00+08:00",
              "lon": 117.88, "lat": 33.48, "pad": "x" * 200}
    batch = {"positions": [record] * 1000}
    response = client.post("/api/ingest/positions", json=batch,
                           headers={"Authorization": "Bearer test-ingest-token"})
    assert response.status_code != 413, response.text
    big = {"positions": [record] * 12_000}  # about 3 MB
    response = client.post("/api/ingest/positions", json=big,
                           headers={"Authorization": "Bearer test-ingest-token"})
    assert response.status_code == 413
    assert "2 MiB" in response.json()["detail"] and "GPS batch" in response.json()["detail"]
    # A 1 MB photo is fine for the photo limit (it fails as "not an image", not as too large).
    response = client.post("/api/photos", content=b"\0" * (1024 * 1024),
                           headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 415, response.text


def test_422_bodies_never_echo_the_input(anonymous: TestClient) -> None:
    response = anonymous.post("/api/auth/login", json={
        "username": ["a"], "password": ["hunter2-very-secret"]})
    assert response.status_code == 422
    assert "hunter2" not in response.text and "input" not in response.text
    fields = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert fields == {("body", "username"), ("body", "password")}
    assert all(set(e) == {"loc", "msg", "type"} for e in response.json()["detail"])


def test_the_permission_is_checked_before_the_body_is_read(anonymous: TestClient) -> None:
    # An anonymous caller's body is not parsed on a route that needs a login: 401, not 422.
    response = anonymous.post("/api/users", content=b'{"not json',
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 401, response.text


# 4. Control characters -----------------------------------------------------------------------

NUL_CASES = [
    # (who, method, url, json body, the field the 422 names)
    ("anonymous", "POST", "/api/auth/login", {"username": "a\u0000", "password": "x"},
     ["body", "username"]),
    ("anonymous", "GET", "/open311/v2/tokens/%00", None, "token"),
    ("anonymous", "GET", "/open311/v2/requests/%00", None, "service_request_id"),
    ("anonymous", "GET", "/open311/v2/services/a%00", None, "service_code"),
    ("anonymous", "GET", "/open311/v2/requests.json?service_code=E%00", None, "service_code"),
    ("anonymous", "GET", "/tiles/roads%00.json", None, ["path", "layers"]),
    ("anonymous", "GET", "/ogc/collections/roads/items/%00", None, ["path", "feature_id"]),
    ("admin", "GET", "/api/vehicles/bus%00", None, ["path", "vehicle_id"]),
    ("admin", "GET", "/api/incidents?category=E%00", None, ["query", "category"]),
    ("admin", "GET", "/api/alarms?vehicle_id=%00", None, ["query", "vehicle_id"]),
    ("admin", "PATCH", "/api/users/a%00", {"display_name": "x"}, ["path", "username"]),
    ("admin", "POST", "/api/users", {"username": "nul\u0000user", "password": "x" * 12,
                                     "roles": ["viewer"]}, ["body", "username"]),
    ("admin", "PUT", "/api/grid/cells/%00/workers", {"usernames": []}, ["path", "grid_code"]),
    ("admin", "PUT", "/api/grid/cells/G1/workers", {"usernames": ["a\u0000"]},
     ["body", "usernames", 0]),
    ("admin", "POST", "/api/incidents", {"category_code": "E0101", "description": "a\u0000b",
                                         "lon": 117.88, "lat": 33.48}, ["body", "description"]),
    ("admin", "POST", "/api/alarms/1/ack", {"note": "\u0085"}, ["body", "note"]),
    ("admin", "POST", "/api/incidents/1/actions/dispatch", {"note": "x\u0000"},
     ["body", "note"]),
    ("admin", "GET", "/api/kpi/incidents?from=%00&to=x", None, ["query", "from"]),
]


@pytest.mark.parametrize(("who", "method", "url", "body", "field"), NUL_CASES,
                         ids=[f"{c[1]} {c[2]}" for c in NUL_CASES])
def test_control_characters_are_refused_with_422_naming_the_field(
    client: TestClient, anonymous: TestClient, who: str, method: str, url: str,
    body: dict | None, field: list | str,
) -> None:
    caller = client if who == "admin" else anonymous
    response = caller.request(method, url, json=body)
    assert response.status_code == 422, response.text
    if url.startswith("/open311"):  # GeoReport's own error format
        assert response.json()[0]["code"] == 422 and field in response.json()[0]["description"]
    else:
        assert field in [e["loc"] for e in response.json()["detail"]], response.text
        assert "control character" in response.text


def test_free_text_keeps_tabs_and_newlines_but_not_nul_in_forms(
    client: TestClient, anonymous: TestClient,
) -> None:
    ok = client.post("/api/incidents/999999/actions/dispatch", json={"note": "a\tb\r\nc"})
    assert ok.status_code == 404, ok.text  # past the edge, to the case lookup
    form = anonymous.post("/open311/v2/requests.json", content=b"api_key=k&description=a%00b",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 422 and "description" in form.json()[0]["description"]


def test_lone_surrogates_and_nan_are_refused_at_the_edge(client: TestClient) -> None:
    response = client.post("/api/incidents/1/actions/grant_extension",
                           content=b'{"note": "\\ud800", "extension_hours": NaN}',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert {tuple(e["loc"]) for e in response.json()["detail"]} == {
        ("body", "note"), ("body", "extension_hours")}


# 5. Times and numbers ------------------------------------------------------------------------

WINDOW = {"from": BEYOND, "to": "2026-01-01T12:00:00+16:00"}


@pytest.mark.parametrize(("url", "params", "status"), [
    ("/api/alarms", WINDOW, 422),
    ("/api/kpi/incidents", WINDOW, 400),
    ("/api/vehicles/edge-bus/track", WINDOW, 400),
    ("/api/lines/1/replay", WINDOW, 400),
    ("/open311/v2/requests", {"start_date": BEYOND}, 400),
    ("/open311/v2/requests.json", {"end_date": BEYOND}, 400),
    ("/api/incidents", {"offset": HUGE}, 422),
    ("/ogc/collections/roads/items", {"offset": HUGE}, 400),
    ("/api/alarms/" + HUGE, {}, 422),
    ("/api/incidents/" + HUGE, {}, 422),
    ("/api/lines/" + HUGE + "/operations", {}, 422),
])
def test_out_of_range_times_and_numbers_are_refused_not_500(
    client: TestClient, url: str, params: dict, status: int,
) -> None:
    response = client.get(url, params=params)
    assert response.status_code == status, response.text
    text = response.text
    assert any(name in text for name in ("from", "start_date", "end_date", "offset", "_id",
                                         "path")), text


def test_a_phone_position_with_an_offset_beyond_postgres_is_422(client: TestClient) -> None:
    response = client.post("/api/me/position",
                           json={"lon": 117.88, "lat": 33.48, "time": BEYOND})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "time"]
    assert "15:59" in response.json()["detail"][0]["msg"]


def test_an_unencoded_plus_in_a_typed_time_still_works(client: TestClient) -> None:
    response = client.get("/api/alarms?from=2026-11-24T08:00:00+08:00"
                          "&to=2026-11-24T09:00:00+08:00")
    assert response.status_code == 200, response.text


# 12. Headers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/report", "/api/health", "/api/nothing-here"])
def test_security_headers_on_every_answer(anonymous: TestClient, path: str) -> None:
    headers = anonymous.get(path).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/api/users", "/api/vehicles", "/api/alarms", "/api/lines",
                                  "/ogc/collections/cameras/items", "/api/layers",
                                  "/tiles/cameras.json"])
def test_answers_that_depend_on_the_caller_are_private(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("private"), response.headers
    assert "Authorization" in response.headers["vary"]


def test_public_layers_stay_cacheable(anonymous: TestClient) -> None:
    response = anonymous.get("/ogc/collections/roads/items?limit=1")
    assert response.status_code == 200
    assert not response.headers.get("cache-control", "").startswith("private")


# 14. OpenAPI ---------------------------------------------------------------------------------

def test_openapi_describes_parameters_and_error_answers(anonymous: TestClient) -> None:
    spec = anonymous.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            named = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert named == set(__import__("re").findall(r"\{(\w+)\}", path)), (method, path)
    login = spec["paths"]["/api/auth/login"]["post"]["responses"]
    assert {"401", "413", "422", "429"} <= set(login)
    users = spec["paths"]["/api/users"]["get"]["responses"]
    assert {"401", "403"} <= set(users)
    assert users["403"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")
    error = spec["components"]["schemas"]["ErrorBody"]["properties"]["detail"]
    assert {"type": "string"} in error["anyOf"]  # domain errors: a sentence
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_a_domain_422_matches_the_documented_error_model(client: TestClient) -> None:
    response = client.post("/api/incidents", json={
        "category_code": "E0101", "description": "far away", "lon": 100.0, "lat": 20.0})
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)


def test_405_names_every_method_the_path_answers(client: TestClient) -> None:
    response = client.delete("/api/users")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_refusals_are_counted_where_an_operator_can_read_them(
    app: object, anonymous: TestClient,
) -> None:
    rejected = app.state.edge.rejected  # type: ignore[attr-defined]
    before = rejected[("invalid_input", "string_control_characters")]
    assert anonymous.get("/open311/v2/tokens/%00").status_code == 422
    assert anonymous.post("/api/auth/login", json={"username": "a\u0000",
                                                   "password": "x"}).status_code == 422
    assert rejected[("invalid_input", "string_control_characters")] == before + 2


def test_a_deeply_nested_json_body_is_refused_not_a_crash(client: TestClient) -> None:
    body = b"[" * 20_000 + b'"\\u0000"' + b"]" * 20_000
    response = client.post("/api/incidents/1/actions/dispatch", content=body,
                           headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text


def test_every_http_route_goes_through_the_edge_route_class(app: object) -> None:
    """A router made without `route_class=GuardedRoute` would skip the checks above."""
    from fastapi.routing import APIRoute

    from backend.api.route import GuardedRoute
    from backend.auth.permissions import all_routes

    plain = [r.path for r in all_routes(app.routes)  # type: ignore[attr-defined]
             if isinstance(r, APIRoute) and not isinstance(r, GuardedRoute)]
    assert plain == [], f"use APIRouter(route_class=GuardedRoute) for: {plain}"
