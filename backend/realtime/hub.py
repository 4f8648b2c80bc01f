"""The hub: clients, their subscriptions, and fan-out of backplane events.

Server code publishes with `await hub.publish(channel, data)` (or `hub.publish_threadsafe`
from worker threads). The hub never waits on the database: events arrive complete.

Ended sessions are announced with `await hub.revoke(revocation)`: through the backplane every
process closes that user's sockets (4410) and tells its listeners (`hub.revocations`,
backend/realtime/revocation.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import TYPE_CHECKING, Any

from backend.realtime import messages
from backend.realtime.access import may_subscribe
from backend.realtime.backplane import Backplane, create_backplane
from backend.realtime.client import Client, Subscription
from backend.realtime.messages import CHANNELS, SPATIAL, Event, Revocation
from backend.realtime.revocation import Revocations
from backend.realtime.viewport import EVERYWHERE, View, ViewIndex

if TYPE_CHECKING:
    from backend.settings import Settings

log = logging.getLogger("cityops.realtime")


# Python's default GC thresholds (700, 10, 10) promote every parked sender's future to the
# oldest generation; with ~30 coroutines per console, full collections then run every few
# seconds under load and pause the loop ~200 ms (bench_hub: p99 210 -> 131 ms). Young
# collections stay frequent; full ones become rare. `cityops serve` applies it.
SERVER_GC_THRESHOLD = (50_000, 20, 100)
REVOKE_TIMEOUT_S = 5.0  # announcing a revocation on the backplane

class Hub:
    def __init__(
        self,
        backplane: Backplane,
        *,
        token: str | None,
        client_queue: int = 256,
        position_queue: int = 10_000,
        heartbeat_s: float = 20.0,
        auth_timeout_s: float = 5.0,
    ) -> None:
        self.backplane = backplane
        self.token = token
        self.client_queue = client_queue
        self.position_queue = position_queue
        self.heartbeat_s = heartbeat_s
        self.auth_timeout_s = auth_timeout_s
        self.clients: set[Client] = set()
        self._subs: dict[str, set[Client]] = {c: set() for c in CHANNELS}
        # Spatial channels: subscribers by the grid cells their view covers (viewport.py).
        self._views: dict[str, ViewIndex[Client]] = {c: ViewIndex() for c in SPATIAL}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._published = 0
        self._retired = {"dropped": 0, "coalesced": 0, "sent": 0, "resyncs": 0}
        # publish_threadsafe's inbox: drained by one loop callback however many arrive at once.
        self._inbox: list[tuple[str, dict, concurrent.futures.Future[int] | None]] = []
        self._inbox_lock = threading.Lock()
        self.revocations = Revocations(self.clients)

    @classmethod
    def from_settings(cls, settings: Settings) -> Hub:
        return cls(
            create_backplane(settings.hub_backplane_url, history=settings.hub_history),
            token=settings.effective_hub_token(),
            client_queue=settings.hub_client_queue,
            position_queue=settings.hub_position_queue,
            heartbeat_s=settings.hub_heartbeat_s,
            auth_timeout_s=settings.hub_auth_timeout_s,
        )

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.backplane.start(self._deliver, self.revocations.received)

    async def close(self) -> None:
        await self.revocations.close()
        for client in list(self.clients):
            client.close(messages.CLOSE_GOING_AWAY)
        await self.backplane.close()

    # Publishing ---------------------------------------------------------------------------

    async def publish(self, channel: str, data: dict) -> int:
        """Publish one event; returns its seq. `data` must be JSON-serialisable; on spatial
        channels it carries `lon`/`lat` or `bbox` (without either it reaches every viewport)."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        return await self.backplane.publish(channel, data)

    def publish_threadsafe(self, channel: str, data: dict) -> concurrent.futures.Future[int]:
        """For code on worker threads: `publish` on the hub's loop; the future gets the seq.

        Events queue in an inbox that one loop callback drains in order, so a batch from the
        position pipeline costs one wake-up of the loop, not a task and a wake-up per event
        (about 55 -> 12-18 us of CPU per event from 1-4 publishing threads)."""
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._post(channel, data, future)
        return future

    def publish_nowait_threadsafe(self, channel: str, data: dict) -> None:
        """`publish_threadsafe` for callers that do not want the seq: no future is made (a
        concurrent.futures.Future costs more than the rest of the hand-over); a failure is
        logged."""
        self._post(channel, data, None)

    def _post(self, channel: str, data: dict,
              future: concurrent.futures.Future[int] | None) -> None:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the hub is not started")
        with self._inbox_lock:
            self._inbox.append((channel, data, future))
            first = len(self._inbox) == 1
        if first:
            loop.call_soon_threadsafe(self._drain_inbox)

    def _drain_inbox(self) -> None:
        with self._inbox_lock:
            items, self._inbox = self._inbox, []
        publish_now = getattr(self.backplane, "publish_now", None)  # memory://: synchronous
        for channel, data, future in items:
            if future is not None and not future.set_running_or_notify_cancel():
                continue
            if publish_now is None:
                task = asyncio.ensure_future(self.publish(channel, data))
                task.add_done_callback(lambda t, f=future: _settle(f, t))
                continue
            try:
                if channel not in CHANNELS:
                    raise ValueError(f"unknown channel {channel!r}")
                seq = publish_now(channel, data)
            except Exception as exc:
                if future is None:
                    log.exception("publishing on %s failed", channel)
                else:
                    future.set_exception(exc)
            else:
                if future is not None:
                    future.set_result(seq)

    def _deliver(self, event: Event) -> None:
        self._published += 1
        index = self._views.get(event.channel)
        if index is not None and event.point is not None:
            # Only clients whose view may hold the point (1,000 consoles with town-sized views
            # see a few each): an offer per subscriber would cost more than the sends.
            for client in index.wide:
                client.offer(event)
            for client in index.near(*event.point):
                client.offer(event)
            return
        for client in self._subs.get(event.channel, ()):
            client.offer(event)

    # Revocation ---------------------------------------------------------------------------

    async def revoke(self, revocation: Revocation) -> None:
        """Announce ended sessions to every process; returns once sent (this process's
        sockets are closed already on memory://, within a Redis round trip on redis://).
        Runs on the hub's loop whichever loop the caller is on (test clients run their own).
        The sessions are gone from the database already: when the backplane cannot be
        reached the failure is logged and counted, and the periodic session check closes
        the sockets instead of the caller failing."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the hub is not started")
        try:
            if asyncio.get_running_loop() is loop:
                await asyncio.wait_for(self.backplane.revoke(revocation), REVOKE_TIMEOUT_S)
            else:
                sent = asyncio.run_coroutine_threadsafe(self.backplane.revoke(revocation), loop)
                await asyncio.wait_for(asyncio.wrap_future(sent), REVOKE_TIMEOUT_S)
        except Exception:
            self.revocations.unsent += 1
            log.exception("announcing ended sessions of user %s failed", revocation.user_id)

    # Clients ------------------------------------------------------------------------------

    def attach(self, client: Client) -> None:
        self.clients.add(client)

    def detach(self, client: Client) -> None:
        self.clients.discard(client)
        for members in self._subs.values():
            members.discard(client)
        for index in self._views.values():
            index.remove(client)
        self._retired["dropped"] += client.dropped
        self._retired["coalesced"] += client.coalesced
        self._retired["sent"] += client.sent
        self._retired["resyncs"] += client.resyncs

    async def subscribe(self, client: Client, msg: messages.Subscribe) -> None:
        channel = msg.channel
        if channel not in CHANNELS:
            client.control(messages.error(f"unknown channel {channel!r}"))
            return
        if not may_subscribe(client.principal, channel):
            client.control(messages.error(f"not allowed to subscribe to {channel!r}"))
            return
        view = View(msg.bbox, msg.zoom) if channel in SPATIAL else EVERYWHERE
        sub = Subscription(channel, view)
        if msg.since is not None:
            sub.last_seq = msg.since
            sub.pending = []  # live events wait until the history is queued, then follow it
        client.subs[channel] = sub
        self._subs[channel].add(client)
        if channel in self._views:
            self._views[channel].put(client, view)
        last = await self.backplane.last_seq(channel)
        client.control(messages.frame(type="subscribed", channel=channel, seq=last))
        if msg.since is None:
            return
        try:
            missed = await self.backplane.history(channel, msg.since)
        finally:
            held, sub.pending = sub.pending or [], None
        if missed is None:
            client.resyncs += 1
            client.control(
                messages.resync(channel, f"seq {msg.since} is older than the kept history")
            )
            missed = []
        for event in (*missed, *held):
            client.enqueue(sub, event)

    def unsubscribe(self, client: Client, channel: str) -> None:
        if client.subs.pop(channel, None) is None:
            client.control(messages.error(f"not subscribed to {channel!r}"))
            return
        self._subs[channel].discard(client)
        if channel in self._views:
            self._views[channel].remove(client)
        client.control(messages.frame(type="unsubscribed", channel=channel))

    def move_viewport(self, client: Client, msg: messages.Viewport) -> None:
        view = View(msg.bbox, msg.zoom)
        for sub in client.subs.values():
            if sub.channel in SPATIAL:
                sub.view = view
                self._views[sub.channel].put(client, view)

    def stats(self) -> dict[str, int]:
        clients = list(self.clients)
        return {
            "clients": len(clients),
            "queued": sum(c.queued for c in clients),
            "max_client_queue": max((c.queued for c in clients), default=0),
            "dropped": self._retired["dropped"] + sum(c.dropped for c in clients),
            "coalesced": self._retired["coalesced"] + sum(c.coalesced for c in clients),
            "sent": self._retired["sent"] + sum(c.sent for c in clients),
            "resyncs": self._retired["resyncs"] + sum(c.resyncs for c in clients),
            "published": self._published,
            "serialised": self.backplane.serialised,
            "revoked": self.revocations.closed,
            "revocations_unsent": self.revocations.unsent,
        }


def _settle(future: concurrent.futures.Future[Any] | None, task: asyncio.Task[Any]) -> None:
    if future is None:
        if not task.cancelled() and task.exception() is not None:
            log.error("publishing failed", exc_info=task.exception())
        return
    if task.cancelled():
        future.cancel()
    elif (exc := task.exception()) is not None:
        future.set_exception(exc)
    else:
        future.set_result(task.result())
