"""Who may use the hub, and which channels.

A connection authenticates with its first message: the configured hub token (a machine
credential, e.g. a video wall) grants every channel; otherwise a user's session (the token in
the message, or the session cookie of the websocket handshake) grants the channels its
permissions allow."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from backend.auth.permissions import Permission, has_right, presented_token
from backend.auth.users import token_digest
from backend.realtime.messages import (
    ALARMS,
    CAMERA_ALARMS,
    CAMERA_STATUS,
    CHANNELS,
    DATA_UPDATES,
    DOMAIN_KPIS,
    INCIDENTS,
    POSITIONS,
    SYSTEM,
    TRAFFIC,
    TRAFFIC_ALERTS,
    WALL_HEADER,
)

# The right each channel needs, on top of live:read.
CHANNEL_PERMISSIONS: dict[str, Permission] = {
    POSITIONS: Permission.VEHICLES_READ,
    ALARMS: Permission.VEHICLES_READ,
    INCIDENTS: Permission.INCIDENTS_READ,
    TRAFFIC: Permission.TRAFFIC_READ,
    TRAFFIC_ALERTS: Permission.TRAFFIC_READ,
    CAMERA_STATUS: Permission.CAMERAS_READ,
    CAMERA_ALARMS: Permission.CAMERAS_READ,
    DATA_UPDATES: Permission.CATALOG_READ,
    DOMAIN_KPIS: Permission.DOMAINS_READ,
    WALL_HEADER: Permission.DOMAINS_READ,
    SYSTEM: Permission.LIVE_READ,
}


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    channels: frozenset[str]
    user_id: int | None = None  # a user's connection: closed when their sessions are revoked
    session: bytes | None = None  # the SHA-256 of the session token it authenticated with


def authenticate(token: str | None, configured: str | None) -> Principal | None:
    """The configured machine token: every channel."""
    if not token or not configured or not hmac.compare_digest(token.encode(),
                                                              configured.encode()):
        return None
    return Principal(name="configured-token", channels=CHANNELS)


async def authenticate_connection(websocket: WebSocket, token: str | None,
                                  configured: str | None) -> Principal | None:
    machine = authenticate(token, configured)
    if machine is not None:
        return machine
    resources = getattr(websocket.app.state, "resources", None)
    sessions = getattr(resources, "sessions", None)
    token = token or presented_token(websocket)
    if sessions is None or not token:
        return None
    user = await run_in_threadpool(sessions.resolve, token)
    if user is None or not user.may(Permission.LIVE_READ):
        return None
    catalog = resources.catalog
    return Principal(name=user.username, channels=frozenset(
        c for c, needed in CHANNEL_PERMISSIONS.items() if has_right(user, needed, catalog)),
        user_id=user.user_id, session=token_digest(token))


def may_subscribe(principal: Principal, channel: str) -> bool:
    return channel in principal.channels
