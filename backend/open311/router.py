"""Open311 GeoReport v2 at /open311/v2/: discovery, services, a service's definition, service
requests (search, one, POST) and tokens, each as .json or .xml (JSON without a suffix).

Reads are public on purpose (the standard's model; no contact details, sensitive places
coarsened). POST takes an api client's `api_key` in its body (form-encoded or JSON; never in
the URL, which logs keep) and no user session: it declares the api client's own right, which no
user role holds.
Errors are GeoReport's list of {code, description}, in the format asked for."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, RootModel
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState, get_hub
from backend.api.errors import count_invalid, validation_issues
from backend.api.route import GuardedRoute
from backend.audit.actor import bind as bind_actor
from backend.auth.permissions import Permission, presented_token, requires
from backend.errors import CityOpsError, Conflict, Forbidden, InvalidInput, NotFound
from backend.open311 import formats, service
from backend.open311.keys import ApiClient, client_for_key
from backend.open311.rules import Open311Error, parse_search, parse_submission
from backend.realtime.hub import Hub
from backend.realtime.messages import INCIDENTS

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-24T21:00:00+08:00"  # when this endpoint's documents last changed
MAX_BODY = 64 * 1024
DOMAIN_STATUS: list[tuple[type[CityOpsError], int]] = [
    (NotFound, 404), (Forbidden, 403), (InvalidInput, 400), (Conflict, 409)]


def _format(request: Request) -> str:
    """The format asked for: the path's .json/.xml suffix, JSON without one."""
    fmt = request.path_params.get("fmt")
    if fmt is not None:
        return fmt.lower() if fmt.lower() in formats.FORMATS else "json"
    return formats.format_of_path(request.url.path)


class GeoReportError(BaseModel):
    code: int
    description: str


class GeoReportErrors(RootModel[list[GeoReportError]]):
    """GeoReport v2's error answer: [{code, description}] (or <errors> in XML)."""


class Open311Route(GuardedRoute):
    """Answers errors as GeoReport error lists, in the format the path asks for."""

    error_model = GeoReportErrors

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Open311Error as exc:
                return formats.errors(_format(request), exc.status, exc.description,
                                      exc.headers)
            except RequestValidationError as exc:
                issues = validation_issues(exc)
                count_invalid(request, issues)
                issue = issues[0]
                field = ".".join(str(part) for part in issue["loc"][1:]) or issue["loc"][0]
                return formats.errors(_format(request), 422, f"{field}: {issue['msg']}")
            except CityOpsError as exc:
                status = next((s for kind, s in DOMAIN_STATUS if isinstance(exc, kind)), None)
                if status is None:
                    raise
                return formats.errors(_format(request), status, exc.message)

        return handle


router = APIRouter(tags=["open311"], route_class=Open311Route)
PUBLIC = [requires(Permission.PUBLIC)]


def _checked_format(request: Request) -> str:
    fmt = request.path_params.get("fmt")
    return formats.check_format(fmt) if fmt is not None else _format(request)


# The api client (POST) ----------------------------------------------------------------------

@dataclass(frozen=True)
class Posted:
    client: ApiClient
    fields: dict[str, str]


async def _fields(request: Request) -> dict[str, str]:
    """The request's fields, from its form-encoded or JSON body."""
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Open311Error(413, f"The request body is over {MAX_BODY // 1024} KiB")
        chunks.append(chunk)
    body = b"".join(chunks)
    fields: dict[str, str] = {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Open311Error(400, "The request body is not UTF-8") from None
    if kind == "application/x-www-form-urlencoded" or (not kind and "=" in text):
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=500)
        except ValueError:
            raise Open311Error(400, "Too many form fields") from None
        seen: set[str] = set()
        for name, value in pairs:
            if name not in seen:  # a repeated field: the first one counts
                fields[name] = value
                seen.add(name)
    elif kind == "application/json" or kind.endswith("+json"):
        try:
            data = json.loads(text or "{}")
        except ValueError:
            raise Open311Error(400, "The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise Open311Error(400, "The JSON body must be an object of request fields")
        fields.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()
                       if isinstance(v, str | int | float) and not isinstance(v, bool)})
    elif body.strip():
        raise Open311Error(415, "Send the request form-encoded "
                                "(application/x-www-form-urlencoded) or as JSON; media are "
                                "given as a media_url, not uploaded")
    return fields


async def api_client(request: Request) -> Posted:
    fields = await _fields(request)
    key = (fields.get("api_key") or "").strip()
    if not key:
        if presented_token(request):
            raise Open311Error(403, "Service requests are submitted with an api_key, not a "
                                    "user's session: ask the operator for a key")
        raise Open311Error(401, "api_key is required: ask the operator for a key "
                                "(cityops open311 add-key NAME)",
                           headers={"WWW-Authenticate": 'api_key realm="open311"'})
    engine = request.app.state.resources.engine

    def lookup() -> ApiClient | None:
        with engine.connect() as conn:
            return client_for_key(conn, key)

    client = await run_in_threadpool(lookup)
    if client is None:
        raise Open311Error(403, "api_key is not valid, or it was disabled")
    request.state.principal = client.principal()
    request.state.actor = request.state.principal.username
    bind_actor(request.state.actor)  # the audit log records the api client
    return Posted(client, fields)


api_client.permission = Permission.OPEN311_SUBMIT  # type: ignore[attr-defined]  # route audit
API_CLIENT = Depends(api_client)


# Routes -------------------------------------------------------------------------------------

@router.get(f"{PREFIX}/discovery", dependencies=PUBLIC)
@router.get(f"{PREFIX}/discovery.{{fmt}}", dependencies=PUBLIC)
def discovery(request: Request, state: AppState) -> Response:
    fmt = _checked_format(request)
    production = state.settings.env == "production"
    body = {
        "changeset": CHANGESET,
        "contact": "泗县城市综合运行管理平台 · Sixian city operations center",
        "key_service": "api_key: ask the platform's operator (cityops open311 add-key NAME)",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": state.base_url(request) + PREFIX,
            "changeset": CHANGESET,
            "type": "production" if production else "test",
            "formats": ["text/xml", "application/json"],
        }],
    }
    return formats.render(fmt, "discovery", None, body)


@router.get(f"{PREFIX}/services", dependencies=PUBLIC)
@router.get(f"{PREFIX}/services.{{fmt}}", dependencies=PUBLIC)
def services(request: Request, state: AppState) -> Response:
    fmt = _checked_format(request)
    with state.engine.connect() as conn:
        body = service.services(conn)
    return formats.render(fmt, "services", "service", body)


@router.get(f"{PREFIX}/services/{{service_code}}", dependencies=PUBLIC)
def service_definition(service_code: str, state: AppState) -> Response:
    code, fmt = formats.split_format(service_code)
    with state.engine.connect() as conn:
        body = service.service_definition(conn, code)
    return formats.render(fmt, "service_definition", None, body)


@router.get(f"{PREFIX}/requests", dependencies=PUBLIC)
@router.get(f"{PREFIX}/requests.{{fmt}}", dependencies=PUBLIC)
def search(request: Request, state: AppState, service_request_id: str | None = None,
           service_code: str | None = None, start_date: str | None = None,
           end_date: str | None = None, status: str | None = None) -> Response:
    """Newest first, at most 1,000; the window is at most 90 days (the last 90 by default);
    service_request_id (comma-separated) overrides every other filter."""
    fmt = _checked_format(request)
    query = parse_search(service_request_id=service_request_id, service_code=service_code,
                         start_date=start_date, end_date=end_date, status=status,
                         now=datetime.now(UTC))
    with state.engine.connect() as conn:
        body = service.search(conn, query)
    return formats.render(fmt, "service_requests", "request", body)


@router.get(f"{PREFIX}/requests/{{service_request_id}}", dependencies=PUBLIC)
def one(service_request_id: str, state: AppState) -> Response:
    request_id, fmt = formats.split_format(service_request_id)
    with state.engine.connect() as conn:
        body = service.one(conn, request_id)
    return formats.render(fmt, "service_requests", "request", [body])


@router.get(f"{PREFIX}/tokens/{{token}}", dependencies=PUBLIC)
def token(token: str, state: AppState) -> Response:
    value, fmt = formats.split_format(token)
    with state.engine.connect() as conn:
        body = service.by_token(conn, value)
    return formats.render(fmt, "service_requests", "request", [body])


@router.post(f"{PREFIX}/requests", dependencies=[API_CLIENT], status_code=201)
@router.post(f"{PREFIX}/requests.{{fmt}}", dependencies=[API_CLIENT], status_code=201)
async def submit(request: Request, state: AppState, posted: Posted = API_CLIENT,
                 hub: Hub = Depends(get_hub)) -> Response:
    """A service request from an api client becomes a case (source open311) at once: the
    answer carries its service_request_id, and a token for tokens/{token}."""
    fmt = _checked_format(request)
    sub = parse_submission(posted.fields)
    actor = posted.client.principal().username

    def work() -> tuple[dict, dict]:
        now = datetime.now(UTC)
        with state.engine.begin() as conn:
            incident_id, token = service.submit(conn, posted.client, sub, now)
        with state.engine.connect() as conn:
            return service.receipt(conn, incident_id, token, actor)

    reply, change = await run_in_threadpool(work)
    await hub.publish(INCIDENTS, change)
    return formats.render(fmt, "service_requests", "request", [reply], status=201)
