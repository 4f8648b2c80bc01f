"""Login, logout, who am I; user administration for admins."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState, get_hub
from backend.api.route import GuardedRoute
from backend.auth import users
from backend.auth.guard import Busy, Refusal
from backend.auth.permissions import (
    SESSION_COOKIE,
    Actor,
    Caller,
    Permission,
    caller,
    presented_token,
    requires,
)
from backend.auth.policy import MIN_PASSWORD
from backend.privacy.policy import Kind, View, present
from backend.realtime.hub import Hub
from backend.realtime.messages import Revocation

router = APIRouter(route_class=GuardedRoute, tags=["auth"])
USER_PERSONAL = {"phone": Kind.PHONE}  # a user's own phone, by the masking policy


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=MIN_PASSWORD, max_length=256)
    roles: list[str] = Field(min_length=1)
    display_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    department: str | None = Field(default=None, max_length=100)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] | None = Field(default=None, min_length=1)
    display_name: str | None = Field(default=None, max_length=100)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD, max_length=256)


def client_address(request: Request) -> str:
    """The caller's address as the server sees it. Behind a reverse proxy this is the proxy
    unless uvicorn is told to trust its X-Forwarded-For (--forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


def _locked(refusal: Refusal) -> HTTPException:
    return HTTPException(429, refusal.message(),
                         headers={"Retry-After": str(refusal.retry_after_s)})


LOGIN_RESPONSES: dict[int | str, dict] = {
    401: {"description": "Wrong user name or password"},
    429: {"description": "Too many failed logins for the name or the address: see Retry-After"},
    503: {"description": "Too many logins being checked at once: retry after Retry-After"},
}


@router.post("/api/auth/login", dependencies=[requires(Permission.PUBLIC)],
             responses=LOGIN_RESPONSES)
async def login(body: LoginIn, request: Request, response: Response, state: AppState) -> dict:
    name = body.username.strip().lower()
    address = client_address(request)
    guard = state.login_guard
    assert guard is not None and state.sessions is not None
    refusal = await run_in_threadpool(guard.check, name, address)
    if refusal is not None:
        raise _locked(refusal)
    try:
        async with guard.hashing():
            outcome = await run_in_threadpool(users.attempt_login, state.engine, guard, name,
                                              body.password, address)
    except Busy:
        raise HTTPException(503, "登录繁忙 · The server is busy checking other logins: "
                                 "retry in a second", headers={"Retry-After": "1"}) from None
    if isinstance(outcome, Refusal):
        raise _locked(outcome)
    if outcome is None:
        raise HTTPException(401, "用户名或密码错误 · Wrong user name or password")
    session = await run_in_threadpool(state.sessions.create, outcome,
                                      request.headers.get("user-agent"))
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=int(state.sessions.ttl.total_seconds()),
        httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
    response.headers["Cache-Control"] = "no-store"
    return {"user": outcome.as_dict(), "token": session.token,
            "expires_at": session.expires_at.isoformat()}


@router.get("/api/auth/me", dependencies=[requires(Permission.AUTHENTICATED)])
def me(principal: Caller, response: Response) -> dict:
    response.headers["Cache-Control"] = "private, no-store"
    assert principal is not None
    return {"user": principal.as_dict()}


@router.get("/api/auth/session", dependencies=[requires(Permission.PUBLIC)])
async def session_check(request: Request, response: Response) -> dict:
    """Whether the caller is signed in, always 200: a console's cold start asks this, and "not
    signed in" is an expected answer there, not an error (a 401 is logged by every browser)."""
    response.headers["Cache-Control"] = "private, no-store"
    try:
        principal = await caller(request)
    except HTTPException as refused:  # a stale or forged token: simply not signed in
        if refused.status_code != 401:
            raise
        principal = None
    if principal is None:
        return {"signed_in": False}
    return {"signed_in": True, "user": principal.as_dict()}


@router.post("/api/auth/logout", status_code=204,
             dependencies=[requires(Permission.AUTHENTICATED)])
async def logout(request: Request, state: AppState, principal: Caller,
                 hub: Hub = Depends(get_hub)) -> Response:
    """End this session; its live sockets close (4410) in every process."""
    token = presented_token(request)
    if token and principal is not None and principal.user_id is not None:
        assert state.sessions is not None
        revocation = await run_in_threadpool(state.sessions.revoke, token, principal,
                                             client_address(request))
        await hub.revoke(revocation)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/users", dependencies=[requires(Permission.USERS_ADMIN)])
def list_users(state: AppState, principal: Caller) -> dict:
    """Every user; phones masked by the one policy, as in every list of people."""
    assert principal is not None
    with state.engine.connect() as conn:
        listed = users.list_users(conn)
    for user in listed:
        present(user, USER_PERSONAL, principal.roles, View.LIST)
    return {"users": listed}


@router.post("/api/users", status_code=201, dependencies=[requires(Permission.USERS_ADMIN)])
def create_user(body: UserIn, state: AppState, actor: Actor) -> dict:
    with state.engine.begin() as conn:
        users.create_user(conn, body.username, body.password, body.roles,
                          display_name=body.display_name, phone=body.phone,
                          department=body.department, actor=actor)
    return {"username": body.username}


@router.patch("/api/users/{username}", dependencies=[requires(Permission.USERS_ADMIN)])
async def update_user(username: str, body: UserPatch, state: AppState, actor: Actor,
                      hub: Hub = Depends(get_hub)) -> dict:
    """Change a user; disabling them or changing roles or password ends their sessions and
    closes their live sockets (4410) in every process."""

    def change() -> Revocation | None:
        with state.engine.begin() as conn:
            return users.update_user(conn, username, roles=body.roles,
                                     display_name=body.display_name, active=body.active,
                                     password=body.password, actor=actor)

    revocation = await run_in_threadpool(change)
    if revocation is not None:
        await hub.revoke(revocation)
    return {"username": username}
