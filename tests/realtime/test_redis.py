"""Two hubs (two uvicorn servers, each with its own loop and Redis connections) sharing events,
sequence numbers and history through a real Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from backend.realtime.hub import Hub
from tests.conftest import free_port
from tests.realtime.conftest import hub_app, hub_settings, serve
from tests.realtime.test_live import next_of, open_client

INSIDE = {"lon": 117.9, "lat": 33.5}
OUTSIDE = {"lon": 118.6, "lat": 33.9}
VIEW = [117.8, 33.4, 118.0, 33.6]


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@contextmanager
def redis_url(usual: str = "redis://127.0.0.1:6379/0") -> Iterator[str]:
    """The machine's Redis when one answers; otherwise one started here (CI skips nothing)."""
    if answers(usual):
        yield usual
        return
    exe = shutil.which("redis-server")
    assert exe, "redis-server is required (Debian package redis-server)"
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while not answers(url):
            assert proc.poll() is None and time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[str]:
    with redis_url() as url:
        yield url


def test_a_redis_is_started_when_none_answers() -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    with redis_url(nobody) as url:
        assert url != nobody and answers(url)
    assert not answers(url)


@pytest.fixture
def backplane_url(redis_server: str) -> Iterator[str]:
    """A key prefix of this test's own, deleted afterwards."""
    prefix = f"cityops-test:{uuid.uuid4().hex}:"
    yield f"{redis_server}?prefix={prefix}"
    r = redis.Redis.from_url(redis_server)
    keys = list(r.scan_iter(match=f"{prefix}*"))
    if keys:
        r.delete(*keys)


def test_two_hubs_share_events_seq_and_history(backplane_url: str) -> None:
    settings = hub_settings(hub_backplane_url=backplane_url, hub_history=20)

    async def scenario(urls: list[str], hubs: list[Hub]) -> None:
        clients = [await open_client(url) for url in urls]
        for ws in clients:
            await ws.send(json.dumps({"type": "subscribe", "channel": "system"}))
            await ws.send(json.dumps(
                {"type": "subscribe", "channel": "vehicles.alarms", "bbox": VIEW}
            ))
            await next_of(ws, "subscribed")
            await next_of(ws, "subscribed")
        # Publish alternately through both processes' hubs.
        seqs = []
        for n in range(6):
            fut = hubs[n % 2].publish_threadsafe("system", {"n": n, "from": n % 2})
            seqs.append(await asyncio.wrap_future(fut))
        assert seqs == [1, 2, 3, 4, 5, 6]  # one numbering for both processes
        for ws in clients:
            got = [await next_of(ws, "event") for _ in range(6)]
            expected = list(zip(seqs, range(6), strict=True))
            assert [(e["seq"], e["data"]["n"]) for e in got] == expected
        # Viewport filtering applies to events from the other process too.
        for n, where in enumerate([OUTSIDE, INSIDE]):
            fut = hubs[1].publish_threadsafe("vehicles.alarms", {"n": n, **where})
            await asyncio.wrap_future(fut)
        for ws in clients:
            event = await next_of(ws, "event")
            assert (event["channel"], event["seq"], event["data"]["n"]) == (
                "vehicles.alarms", 2, 1
            )
        for ws in clients:
            await ws.close()
        # Resume on the second process from the shared history, and resync beyond it.
        late = await open_client(urls[1])
        await late.send(json.dumps({"type": "subscribe", "channel": "system", "since": 4}))
        assert (await next_of(late, "subscribed"))["seq"] == 6
        assert [(await next_of(late, "event"))["seq"] for _ in range(2)] == [5, 6]
        for n in range(25):
            await asyncio.wrap_future(hubs[0].publish_threadsafe("system", {"n": n}))
        await late.send(json.dumps({"type": "subscribe", "channel": "system", "since": 4}))
        assert (await next_of(late, "resync"))["channel"] == "system"
        await late.send(json.dumps({"type": "subscribe", "channel": "system", "since": 29}))
        assert [(await next_of(late, "event"))["seq"] for _ in range(2)] == [30, 31]
        await late.close()

    with serve(hub_app(settings)) as (url1, hub1), serve(hub_app(settings)) as (url2, hub2):
        asyncio.run(scenario([url1, url2], [hub1, hub2]))
        # Each hub serialised only what it published itself.
        assert hub1.stats()["serialised"] + hub2.stats()["serialised"] == 33
        assert hub1.stats()["published"] == hub2.stats()["published"] == 33
