"""Login, logout, who am I; user administration for admins."""

from __future__ import annotations

import threading
import time
from collections import deque

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState
from backend.auth import users
from backend.auth.permissions import (
    SESSION_COOKIE,
    Actor,
    Caller,
    Permission,
    Principal,
    caller,
    presented_token,
    requires,
)

router = APIRouter(tags=["auth"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=users.MIN_PASSWORD, max_length=256)
    roles: list[str] = Field(min_length=1)
    display_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    department: str | None = Field(default=None, max_length=100)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] | None = Field(default=None, min_length=1)
    display_name: str | None = Field(default=None, max_length=100)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=users.MIN_PASSWORD, max_length=256)


class LoginThrottle:
    """At most `attempts` failed logins per user name within `window_s`, then 429."""

    def __init__(self, attempts: int = 5, window_s: float = 300.0) -> None:
        self.attempts, self.window_s = attempts, window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, username: str) -> float:
        with self._lock:
            recent = self._failures.get(username)
            now = time.monotonic()
            while recent and now - recent[0] > self.window_s:
                recent.popleft()
            if recent and len(recent) >= self.attempts:
                return self.window_s - (now - recent[0])
            return 0.0

    def failed(self, username: str) -> None:
        with self._lock:
            self._failures.setdefault(username, deque()).append(time.monotonic())
            if len(self._failures) > 10_000:
                self._failures.clear()

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)


throttle = LoginThrottle()


@router.post("/api/auth/login", dependencies=[requires(Permission.PUBLIC)])
async def login(body: LoginIn, request: Request, response: Response, state: AppState) -> dict:
    name = body.username.strip().lower()
    wait = throttle.retry_after(name)
    if wait > 0:
        raise HTTPException(429, f"Too many failed logins for {name!r}: try again in "
                                 f"{int(wait) + 1} s", headers={"Retry-After": str(int(wait) + 1)})

    def verify() -> Principal | None:
        with state.engine.begin() as conn:
            return users.verify_login(conn, name, body.password)

    principal = await run_in_threadpool(verify)
    if principal is None:
        throttle.failed(name)
        raise HTTPException(401, "用户名或密码错误 · Wrong user name or password")
    throttle.succeeded(name)
    session = await run_in_threadpool(state.sessions.create, principal,
                                      request.headers.get("user-agent"))
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=int(state.sessions.ttl.total_seconds()),
        httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
    response.headers["Cache-Control"] = "no-store"
    return {"user": principal.as_dict(), "token": session.token,
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
async def logout(request: Request, state: AppState) -> Response:
    token = presented_token(request)
    if token:
        await run_in_threadpool(state.sessions.revoke, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/users", dependencies=[requires(Permission.USERS_ADMIN)])
def list_users(state: AppState) -> dict:
    with state.engine.connect() as conn:
        return {"users": users.list_users(conn)}


@router.post("/api/users", status_code=201, dependencies=[requires(Permission.USERS_ADMIN)])
def create_user(body: UserIn, state: AppState, actor: Actor) -> dict:
    with state.engine.begin() as conn:
        users.create_user(conn, body.username, body.password, body.roles,
                          display_name=body.display_name, phone=body.phone,
                          department=body.department, actor=actor)
    return {"username": body.username}


@router.patch("/api/users/{username}", dependencies=[requires(Permission.USERS_ADMIN)])
def update_user(username: str, body: UserPatch, state: AppState, actor: Actor) -> dict:
    with state.engine.begin() as conn:
        users.update_user(conn, username, roles=body.roles, display_name=body.display_name,
                          active=body.active, password=body.password, actor=actor)
    state.sessions.forget_cached()
    return {"username": username}
