"""The hub under a real uvicorn with `websockets` clients: slow clients, heartbeats."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from backend.realtime.hub import Hub
from backend.realtime.messages import CLOSE_HEARTBEAT, POSITIONS
from tests.realtime.conftest import TOKEN, hub_app, hub_settings, on_hub_loop, serve

VEHICLES = 10
POSITIONS_SENT = 1000


async def open_client(url: str, **kwargs: Any) -> ClientConnection:
    ws = await connect(url, open_timeout=5, **kwargs)
    await ws.send(json.dumps({"type": "auth", "token": TOKEN}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 2)) == {"type": "authenticated"}
    return ws


async def next_of(ws: ClientConnection, kind: str, timeout: float = 2.0) -> dict:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg["type"] == kind:
            return msg


async def burst(hub: Hub) -> int:
    """1,000 positions of 10 vehicles (with an 8 kB payload each so that a client that does not
    read fills its socket buffers); returns the largest position queue seen on any client."""
    largest = 0
    pad = "x" * 8192
    for n in range(POSITIONS_SENT):
        await hub.publish(
            POSITIONS, {"vehicle_id": f"v{n % VEHICLES}", "n": n, "lon": 117.9, "lat": 33.5,
                        "pad": pad}
        )
        largest = max(largest, *(c.queued_positions for c in hub.clients))
        if n % VEHICLES == VEHICLES - 1:
            await asyncio.sleep(0.001)  # let readers read, as a real feed would
    return largest


def stalled_client(url: str, channel: str = POSITIONS) -> socket.socket:
    """A raw websocket client with a tiny receive buffer that authenticates, subscribes to
    positions and then never reads (the kernel buffers fill, then the server's send blocks)."""
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    for msg in ({"type": "auth", "token": TOKEN}, {"type": "subscribe", "channel": channel}):
        payload = json.dumps(msg).encode()
        assert len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return sock


def wait_subscribed(hub: Hub, channel: str) -> None:
    """Until a client of the hub subscribes to `channel` (bounded)."""
    deadline = time.monotonic() + 2
    while not any(channel in c.subs for c in list(hub.clients)):
        assert time.monotonic() < deadline, "the client did not subscribe"
        time.sleep(0.005)


def test_stalled_client_is_coalesced_and_does_not_delay_others() -> None:
    async def scenario(url: str, hub: Hub) -> None:
        stalled = stalled_client(url)
        await asyncio.to_thread(wait_subscribed, hub, POSITIONS)
        reader = await open_client(url, max_size=None)
        await reader.send(json.dumps({"type": "subscribe", "channel": POSITIONS}))
        await next_of(reader, "subscribed")

        async def read_all() -> list[int]:
            ns: list[int] = []
            while len(ns) < POSITIONS_SENT:
                ns.append((await next_of(reader, "event"))["data"]["n"])
            return ns

        reading = asyncio.create_task(read_all())
        largest = await on_hub_loop(hub, burst(hub))
        received = await asyncio.wait_for(reading, 5)
        assert received == list(range(POSITIONS_SENT))  # everything, in order, promptly
        assert largest <= VEHICLES  # never more than the latest position per vehicle
        stats = hub.stats()
        assert stats["coalesced"] > 0  # the stalled client's older positions were replaced
        assert stats["max_client_queue"] <= VEHICLES
        assert stats["serialised"] == POSITIONS_SENT
        await reader.close()
        stalled.close()

    with serve(hub_app(hub_settings())) as (url, hub):
        asyncio.run(scenario(url, hub))


def test_stalled_client_on_other_channels_drops_oldest_and_is_told_to_resync() -> None:
    async def flood(hub: Hub) -> int:
        largest, pad = 0, "x" * 8192
        for n in range(POSITIONS_SENT):
            await hub.publish("vehicles.alarms", {"n": n, "pad": pad})
            largest = max(largest, *(c.queued for c in hub.clients))
            if n % 10 == 9:
                await asyncio.sleep(0.001)
        return largest

    async def scenario(hub: Hub) -> None:
        largest = await on_hub_loop(hub, flood(hub))
        (client,) = hub.clients
        assert largest <= 5 + 1  # the queue limit, plus one pending resync frame
        assert client.dropped > 0 and hub.stats()["dropped"] == client.dropped
        assert any(f.startswith('{"type":"resync"') for f in client._control)

    with serve(hub_app(hub_settings(hub_client_queue=5))) as (url, hub):
        stalled = stalled_client(url, "vehicles.alarms")
        wait_subscribed(hub, "vehicles.alarms")
        asyncio.run(scenario(hub))
        stalled.close()


def test_heartbeat_closes_a_dead_client() -> None:
    async def scenario(url: str, hub: Hub) -> None:
        dead = await open_client(url)  # reads, but never answers a ping
        alive = await open_client(url)

        inbox: asyncio.Queue[dict] = asyncio.Queue()

        async def answer_pings() -> None:
            while True:
                msg = json.loads(await alive.recv())
                if msg["type"] == "ping":
                    await alive.send(json.dumps({"type": "pong"}))
                else:
                    inbox.put_nowait(msg)

        answering = asyncio.create_task(answer_pings())
        try:
            await asyncio.wait_for(dead.wait_closed(), 5)
            assert dead.close_code == CLOSE_HEARTBEAT
            await asyncio.sleep(1.5)  # several more intervals
            assert hub.stats()["clients"] == 1
            await alive.send(json.dumps({"type": "subscribe", "channel": "system"}))
            assert (await asyncio.wait_for(inbox.get(), 2))["type"] == "subscribed"
            await asyncio.wrap_future(hub.publish_threadsafe("system", {"ok": True}))
            msg = await asyncio.wait_for(inbox.get(), 2)
            assert (msg["type"], msg["data"]) == ("event", {"ok": True})
        finally:
            answering.cancel()
        await alive.close()

    # 0.5 s: short for a test, long enough that a loaded 2-core CI machine answers in time
    with serve(hub_app(hub_settings(hub_heartbeat_s=0.5))) as (url, hub):
        asyncio.run(scenario(url, hub))


def test_shutdown_closes_clients() -> None:
    async def opened(url: str) -> ClientConnection:
        return await open_client(url)

    with serve(hub_app(hub_settings())) as (url, hub):
        loop = asyncio.new_event_loop()
        ws = loop.run_until_complete(opened(url))
    try:
        loop.run_until_complete(asyncio.wait_for(ws.wait_closed(), 5))
        assert ws.close_code in (1001, 1012)
        assert isinstance(ws.close_code, int)
    finally:
        loop.close()
    assert hub.stats()["clients"] == 0
