"""The `/ws` endpoint (protocol in `backend.realtime.messages`)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from backend.api.deps import get_hub
from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, websocket_requires
from backend.realtime import messages
from backend.realtime.access import authenticate_connection
from backend.realtime.client import Client
from backend.realtime.hub import Hub

router = APIRouter(route_class=GuardedRoute)

MAX_MESSAGE_CHARS = 4096
MAX_ERRORS = 20


@router.websocket("/ws")
@websocket_requires(Permission.LIVE_READ)
async def websocket_endpoint(websocket: WebSocket, hub: Hub = Depends(get_hub)) -> None:
    await websocket.accept()
    principal = None
    mark = hub.revocations.mark()  # revocations from here on also apply to this socket
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, ValidationError, KeyError):
        first = await asyncio.wait_for(websocket.receive_text(), hub.auth_timeout_s)
        msg = messages.parse(first) if len(first) <= MAX_MESSAGE_CHARS else None
        if isinstance(msg, messages.Auth):
            principal = await authenticate_connection(websocket, msg.token, hub.token)
    if principal is None:
        with contextlib.suppress(Exception):
            await websocket.close(messages.CLOSE_UNAUTHORIZED, "authentication required")
        return

    client = Client(websocket, principal, hub.client_queue, hub.position_queue)
    hub.attach(client)
    hub.revocations.admit(client, mark)  # its session may have ended while it was resolved
    client.control(messages.frame(type="authenticated"))
    state = {"seen": time.monotonic()}
    tasks = [
        asyncio.create_task(client.run_sender()),
        asyncio.create_task(_receive(hub, client, state)),
        asyncio.create_task(_heartbeat(hub, client, state)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.detach(client)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if client.close_code is not None:
            # A dead peer may never read the close frame: do not wait on it for long.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    websocket.close(client.close_code, client.close_reason), 1.0)


async def _receive(hub: Hub, client: Client, state: dict[str, float]) -> None:
    websocket = client.websocket
    while True:
        event = await websocket.receive()
        if event["type"] == "websocket.disconnect":
            return
        state["seen"] = time.monotonic()
        text = event.get("text") or event.get("bytes") or ""
        if len(text) > MAX_MESSAGE_CHARS:
            client.close(messages.CLOSE_TOO_BIG)
            return
        try:
            msg = messages.parse(text)
        except ValueError as exc:
            client.errors += 1
            if client.errors >= MAX_ERRORS:
                client.close(messages.CLOSE_TOO_MANY_ERRORS)
                return
            client.control(messages.error(_describe(exc)))
            continue
        if isinstance(msg, messages.Subscribe):
            await hub.subscribe(client, msg)
        elif isinstance(msg, messages.Unsubscribe):
            hub.unsubscribe(client, msg.channel)
        elif isinstance(msg, messages.Viewport):
            hub.move_viewport(client, msg)
        elif isinstance(msg, messages.Ping):
            client.control(messages.PONG)
        elif isinstance(msg, messages.Auth):
            client.control(messages.error("already authenticated"))


async def _heartbeat(hub: Hub, client: Client, state: dict[str, float]) -> None:
    """Ping every interval; a client that sent nothing since the last ping is dead."""
    pinged: float | None = None
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.closing.wait(), hub.heartbeat_s)
            return  # closed by the hub (shutdown) or by the receiver
        if pinged is not None and state["seen"] < pinged:
            client.close(messages.CLOSE_HEARTBEAT)
            return
        pinged = time.monotonic()
        client.control(messages.PING)


def _describe(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"bad message: {where}: {err['msg']}" if where else f"bad message: {err['msg']}"
    return f"bad message: {exc}"
