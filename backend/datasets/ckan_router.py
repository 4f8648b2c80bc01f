"""CKAN's Action API (read actions) at /api/3/action/ and /api/action/ (the path the `ckanapi`
client calls), GET with query parameters or POST with a JSON body, answered in CKAN's envelope
`{help, success, result}`; errors as CKAN gives them (`{help, success: false, error: {__type,
message}}` with 404 Not Found Error, 409 Validation Error / Search Query Error, 403
Authorization Error).

Access: the routes are declared PUBLIC (harvesters call without a session) and filter inside,
in this one place: a caller presenting a session token (`Authorization: <token>` as ckanapi's
apikey sends it, `Bearer <token>`, or `X-CKAN-API-Key`) whose roles hold catalog:read sees
every dataset; anyone else sees the open ones (open_type 'open').
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend.api.responses import JSONBytes
from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, Principal, requires
from backend.datasets import ckan
from backend.errors import InvalidInput, NotFound

router = APIRouter(route_class=GuardedRoute, tags=["ckan"])
MAX_BODY = 64 * 1024
ACTIONS = ("package_list", "package_show", "package_search", "organization_list",
           "organization_show", "group_list", "tag_list", "status_show")
Action = Annotated[str, Path(max_length=40, pattern=r"^[a-z_]+$")]


class CkanErrorBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    type: str = Field(alias="__type", description="Not Found Error, Validation Error, ...")
    message: str


class CkanEnvelope(BaseModel):
    """CKAN's answer: `result` on success, `error` otherwise."""

    help: str
    success: bool
    result: Any = None
    error: CkanErrorBody | None = None


RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": CkanEnvelope, "description": text} for status, text in (
        (200, "CKAN's envelope with the action's result"),
        (400, "An unknown action or a body that is not a JSON object"),
        (403, "Authorization Error: the API key (session token) is not valid"),
        (404, "Not Found Error: no such package or organization (or not open)"),
        (409, "Validation Error / Search Query Error: a parameter is wrong"),
        (413, "The body is over 64 KiB"))}


class CkanError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def _help(request: Request, action: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={action}"


def _answer(request: Request, action: str, result: Any) -> JSONBytes:
    return JSONBytes({"help": _help(request, action), "success": True, "result": result})


def _error(request: Request, action: str, err: CkanError) -> JSONBytes:
    body: dict[str, Any] = {"__type": err.kind, "message": f"{err.kind}: {err.message}"}
    return JSONBytes({"help": _help(request, action), "success": False, "error": body},
                        status_code=err.status)


def _token(request: Request) -> str | None:
    raw = (request.headers.get("authorization") or request.headers.get("x-ckan-api-key")
           or "").strip()
    scheme, _, rest = raw.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else raw
    return token or None


def _may_see_all(request: Request) -> bool:
    token = _token(request)
    if token is None:
        return False
    principal: Principal | None = request.app.state.resources.sessions.resolve(token)
    if principal is None:
        raise CkanError(403, "Authorization Error",
                        "the API key (session token) is not valid or has expired: log in again")
    return principal.may(Permission.CATALOG_READ)


def _int(params: dict[str, Any], name: str, default: int | None) -> int | None:
    value = params.get(name, default)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be an integer") from None


def _flag(params: dict[str, Any], name: str) -> bool:
    return str(params.get(name, "false")).lower() in ("true", "1", "yes")


def _str(params: dict[str, Any], name: str, default: str = "", cap: int = 500) -> str:
    value = params.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > cap:
        raise InvalidInput(f"{name} must be text of at most {cap} characters")
    return value


def _run(request: Request, action: str, params: dict[str, Any]) -> Any:
    engine = request.app.state.resources.engine
    base = request.app.state.resources.base_url(request)
    open_only = not _may_see_all(request)
    with engine.connect() as conn:
        calls: dict[str, Callable[[], Any]] = {
            "package_list": lambda: ckan.package_list(
                conn, open_only=open_only, limit=_int(params, "limit", None),
                offset=_int(params, "offset", 0) or 0),
            "package_show": lambda: ckan.package_show(
                conn, _str(params, "id") or _str(params, "name"), open_only=open_only,
                base=base),
            "package_search": lambda: ckan.package_search(
                conn, q=_str(params, "q", "*:*"), fq=_str(params, "fq"),
                rows=_int(params, "rows", 10) or 0, start=_int(params, "start", 0) or 0,
                open_only=open_only, base=base),
            "organization_list": lambda: ckan.organization_list(
                conn, all_fields=_flag(params, "all_fields"), open_only=open_only),
            "organization_show": lambda: ckan.organization_show(
                conn, _str(params, "id"), open_only=open_only),
            "group_list": lambda: ckan.group_list(
                conn, all_fields=_flag(params, "all_fields"), open_only=open_only),
            "tag_list": lambda: ckan.tag_list(
                conn, query=_str(params, "query", "", 100) or None,
                all_fields=_flag(params, "all_fields"), open_only=open_only),
            "status_show": lambda: {
                "site_title": "泗县政务数据资源目录 · Sixian government data catalog",
                "site_description": "县数据资源管理局的政务数据资源目录（示意）",
                "site_url": base, "ckan_version": "2.10.4", "locale_default": "zh_Hans_CN",
                "error_emails_to": None, "extensions": ["cityops-catalog"]},
        }
        return calls[action]()


async def _action(request: Request, action: str, body: bytes | None) -> JSONBytes:
    if action not in ACTIONS:
        return _error(request, action, CkanError(
            400, "Bad request", f"Action name not known: {action}; this catalog answers "
                                f"{', '.join(ACTIONS)}"))
    params: dict[str, Any] = dict(request.query_params)
    try:
        if body:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise CkanError(400, "Bad request", "the body is not JSON") from None
            if not isinstance(data, dict):
                raise CkanError(400, "Bad request", "the body must be a JSON object")
            params.update(data)
        result = await run_in_threadpool(_run, request, action, params)
    except CkanError as err:
        return _error(request, action, err)
    except NotFound as exc:
        return _error(request, action, CkanError(404, "Not Found Error", exc.message))
    except InvalidInput as exc:
        kind = "Search Query Error" if action == "package_search" else "Validation Error"
        return _error(request, action, CkanError(409, kind, exc.message))
    return _answer(request, action, result)


# PUBLIC by design (see the module's note): visibility is filtered inside, by _may_see_all.
@router.get("/api/3/action/{action}", dependencies=[requires(Permission.PUBLIC)],
            responses=RESPONSES)
@router.get("/api/action/{action}", dependencies=[requires(Permission.PUBLIC)],
            include_in_schema=False, responses=RESPONSES)
async def ckan_get(action: Action, request: Request) -> JSONBytes:
    """A CKAN read action with its parameters in the query string."""
    return await _action(request, action, None)


@router.post("/api/3/action/{action}", dependencies=[requires(Permission.PUBLIC)],
            responses=RESPONSES)
@router.post("/api/action/{action}", dependencies=[requires(Permission.PUBLIC)],
             include_in_schema=False, responses=RESPONSES)
async def ckan_post(action: Action, request: Request) -> JSONBytes:
    """A CKAN read action with its parameters in a JSON body (as ckanapi sends them)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        return _error(request, action, CkanError(413, "Bad request",
                                                 f"the body is over {MAX_BODY} bytes"))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return _error(request, action, CkanError(413, "Bad request",
                                                     f"the body is over {MAX_BODY} bytes"))
    return await _action(request, action, bytes(body))
