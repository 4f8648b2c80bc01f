"""The route class every router uses (`APIRouter(route_class=GuardedRoute)`):

- the route's declared permission is checked before its body is read, so an unauthenticated
  caller costs no parsing where the route allows it (login and Open311's api_key in the body
  cannot);
- control characters in query strings, path parameters, JSON bodies and form fields are
  refused with a 422 naming the field (backend.api.validation), before any route code runs;
- the OpenAPI document says what the route answers: 401/403 from its declared permission, 400
  and 404 where it takes input, 409 and 413 where it reads a body, one error model for domain
  and validation errors, and path parameters the endpoint reads from the request itself."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.routing import compile_path

from backend.api import validation
from backend.auth.permissions import Permission, declared_permission

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Bodies larger than this are walked in a worker thread, not on the event loop.
INLINE_WALK_BYTES = 64 * 1024
NO_EARLY_CHECK = frozenset({Permission.PUBLIC, Permission.OPEN311_SUBMIT})  # body holds the key
# Batches of machine records that are validated one record at a time (backend.ingest.validate,
# strict types): a control character or a NaN refuses its record, and the good ones are kept
# (a terminal's whole batch must not be lost to one bad fix).
PER_RECORD_BODIES = frozenset({"/api/ingest/positions"})


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: `detail` is a sentence (domain errors, 401/403/404/409/413/429) or
    the list of fields that failed validation (422). Some errors add fields (e.g. `layers`)."""

    model_config = ConfigDict(extra="allow")
    detail: str | list[ValidationIssue]


DESCRIPTIONS = {
    400: "The request cannot be used: the message says which value and why",
    401: "No valid session or token: log in (or send the bearer token)",
    403: "The caller's role lacks the right this needs",
    404: "No such object",
    409: "The object's state does not allow this now",
    413: "The request body is over its limit (the message names the setting)",
    422: "A field failed validation (which field, and why)",
    429: "Too many attempts: wait and try again",
}


# Answers a route gives beyond what its declarations say (a public route that still refuses).
EXTRA_ERRORS: dict[str, tuple[int, ...]] = {"/api/auth/login": (401, 429),
                                             # a play link's token expired or invalid
                                             "/media/hls/{token}/{code}/{file}": (403,),
                                             # an unknown township or grid cell in the query
                                             "/api/population/stats": (404,),
                                             "/api/people/households": (404,),
                                             "/api/people/export.csv": (404,)}


def documented_errors(path: str, methods: set[str], permission: Permission | None
                      ) -> list[int]:
    """The error statuses a route can answer, from what it declares."""
    statuses = [400]
    if permission is not Permission.PUBLIC:
        statuses += [401, 403]
    if compile_path(path)[2] or permission in (Permission.LAYERS_READ,
                                               Permission.FEATURES_READ):
        statuses.append(404)
    if methods & BODY_METHODS:
        statuses += [409, 413]
    statuses += EXTRA_ERRORS.get(path, ())
    return [*sorted(set(statuses)), 422]


class GuardedRoute(APIRoute):
    error_model: Any = ErrorBody

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        permission = declared_permission(SimpleNamespace(
            dependencies=kwargs.get("dependencies"), endpoint=endpoint))
        responses = dict(kwargs.pop("responses", None) or {})
        methods = {m.upper() for m in kwargs.get("methods") or ("GET",)}
        for status in documented_errors(path, methods, permission):
            responses.setdefault(status, {"model": self.error_model,
                                          "description": DESCRIPTIONS[status]})
        super().__init__(path, endpoint, responses=responses, **kwargs)
        self.permission = permission
        self._guard = self._early_check()
        self._document_path_params()

    def _early_check(self) -> Callable[[Request], Any] | None:
        if self.permission is None or self.permission in NO_EARLY_CHECK:
            return None
        for dep in self.dependencies:
            if getattr(dep.dependency, "permission", None) is self.permission:
                return dep.dependency
        return None

    def _document_path_params(self) -> None:
        """Path parameters the endpoint reads from the request (e.g. Open311's `.{fmt}`)."""
        declared = {p.alias for p in get_flat_params(self.dependant)}
        extra = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                 for name in self.param_convertors if name not in declared]
        if extra:
            self.openapi_extra = {**(self.openapi_extra or {}), "parameters": extra}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            issues = (validation.strict_issues("query", request.query_params.multi_items())
                      + validation.strict_issues(
                          "path", [(k, str(v)) for k, v in request.path_params.items()]))
            if issues:
                raise validation.refuse(issues)
            if self._guard is not None:  # set after APIRoute.__init__ built this handler
                await self._guard(request)
            if request.method in BODY_METHODS and self.path not in PER_RECORD_BODIES:
                await _check_body(request)
            return await handler(request)

        return handle


async def _check_body(request: Request) -> None:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        body = await request.body()
        if len(body) > INLINE_WALK_BYTES:
            issues = await run_in_threadpool(validation.json_issues, body)
        else:
            issues = validation.json_issues(body)
    elif kind == "application/x-www-form-urlencoded":
        body = await request.body()
        try:
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True,
                              max_num_fields=1000)
        except ValueError:
            return  # too many fields: the route's own parsing answers that
        issues = validation.form_issues(pairs)
    else:
        return
    if issues:
        raise validation.refuse(issues)
