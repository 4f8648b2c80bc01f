"""The role x route matrix, generated from the app's routes and their declared permissions:
for every route, which callers get through (any status but 401/403) and which get 401 or 403.
A route without a declared permission fails the test."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from backend.api.route import EXTRA_ERRORS
from backend.auth.permissions import (
    LAYER_SCOPED,
    MACHINE_RIGHTS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    all_routes,
    declared_permission,
)
from tests.conftest import TEST_INGEST_TOKEN, login_token

# FastAPI's own documentation routes (switched off in production).
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# A layer that is not public and that only some roles may see.
PRIVATE_LAYER = "parcels"
SAMPLES = {
    "layers": PRIVATE_LAYER, "collection_id": PRIVATE_LAYER, "feature_id": "1",
    "z": "14", "x": "13632", "y": "6591", "tile_name": "6591.mvt",
    "fontstack": "Noto Sans CJK SC Regular",
    "glyph_range": "0-255", "alarm_id": "1", "vehicle_id": "matrix-none", "line_id": "1",
    "username": "viewer", "incident_id": "0", "action": "file",
    "fmt": "json", "service_code": "E0101.json", "service_request_id": "1.json", "token": "t",
    "sha256": "0" * 64, "grid_code": "341324000000000", "segment": "2", "alert_id": "1",
    "code": "34132400001320000001", "file": "index.m3u8",
    # objects that do not exist: object-level checks answer 404 before 403
    "dataset_id": "no_such_dataset", "request_id": "999999999", "task_id": "999999999",
    "version_id": "1", "change_id": "999999999",
    "person_id": "999999999", "household_id": "999999999", "snapshot_id": "999999999",
    "domain_id": "culture_tourism",
}
Caller = str | None  # a role name, or None for no credential


def routes(app) -> list[tuple[str, str, Permission]]:  # noqa: ANN001
    out = []
    for route in all_routes(app.routes):
        path = getattr(route, "path", None)
        if not path or path in FRAMEWORK or not hasattr(route, "methods") and path != "/ws":
            continue
        permission = declared_permission(route)
        assert permission is not None, f"{path} declares no permission"
        for method in sorted(getattr(route, "methods", None) or {"WS"}):
            if method != "HEAD":
                out.append((method, path, permission))
    return out


def allowed(permission: Permission, caller: Caller, layer_roles: list[str], path: str) -> bool:
    names_layers = "{layers}" in path or "{collection_id}" in path
    if permission is Permission.PUBLIC or permission in LAYER_SCOPED and not names_layers:
        return True  # public; or a listing, filtered to the layers the caller may see
    if caller is None or permission in MACHINE_RIGHTS:
        return False
    if permission is Permission.AUTHENTICATED:
        return True
    granted = permission in ROLE_PERMISSIONS[Role(caller)]
    if permission in LAYER_SCOPED:
        return granted and (caller == "admin" or caller in layer_roles)
    return granted


def url_for(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLES[m.group(1)], path)


def test_every_route_declares_a_permission(app) -> None:  # noqa: ANN001
    declared = routes(app)
    assert len(declared) > 20
    assert ("GET", "/api/health", Permission.PUBLIC) in declared


@pytest.mark.parametrize("caller", [None, *[r.value for r in Role]])
def test_role_route_matrix(app, client: TestClient, anonymous: TestClient,  # noqa: ANN001
                           caller: Caller) -> None:
    layer_roles = app.state.resources.catalog[PRIVATE_LAYER].roles
    token = login_token(client, caller) if caller else None
    wrong: list[str] = []
    for method, path, permission in routes(app):
        if method == "WS":
            continue
        headers = {"Authorization": f"Bearer {token}"} if token else {"Authorization": ""}
        if path == "/api/auth/logout" and caller:
            headers = {"Authorization": f"Bearer {login_token(client, caller)}"}
        response = anonymous.request(method, url_for(path), headers=headers,
                                     json={} if method in ("POST", "PATCH", "PUT") else None)
        denied = response.status_code in (401, 403)
        expect = allowed(permission, caller, layer_roles, path)
        if permission is Permission.PUBLIC and 403 in EXTRA_ERRORS.get(path, ()):
            continue  # its credential is a token in the path (tests/cameras/test_media.py)
        if denied == expect:
            wrong.append(f"{method} {path} ({permission}): {response.status_code}, "
                         f"expected {'through' if expect else '401/403'}")
        elif denied and response.status_code != (401 if caller is None or
                                                  permission in (Permission.POSITIONS_WRITE,
                                                                 Permission.CAMERA_ALARMS_WRITE,
                                                                 Permission.DATASETS_PUSH)
                                                  else 403):
            wrong.append(f"{method} {path}: {response.status_code} instead of "
                         f"{'401' if caller is None else '403'}")
    assert wrong == []


@pytest.mark.parametrize("caller", [None, *[r.value for r in Role]])
def test_websocket_needs_a_user_with_live_rights(client: TestClient, caller: Caller) -> None:
    token = login_token(client, caller) if caller else "not-a-session"
    may = caller is not None and Permission.LIVE_READ in ROLE_PERMISSIONS[Role(caller)]
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "auth", "token": token})
        if may:
            assert ws.receive_json()["type"] == "authenticated"
        else:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4401


def test_ingest_route_takes_only_the_ingest_credential(anonymous: TestClient) -> None:
    ok = anonymous.post("/api/ingest/positions", json={"positions": []},
                        headers={"Authorization": f"Bearer {TEST_INGEST_TOKEN}"})
    assert ok.status_code == 400  # through the check, then told the batch is empty
