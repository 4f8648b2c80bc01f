"""One connected client: its subscriptions and its bounded send queue.

Queue policy (why: a slow client must neither grow memory nor delay anyone else):
- `vehicles.positions`: only the latest position per vehicle is kept (coalesced by
  `data.vehicle_id`), at most `max_positions` vehicles; beyond that the oldest is dropped.
- other channels: at most `max_queue` events, drop-oldest; each drop is counted and the client
  is sent a `resync` for that channel so it reloads state instead of silently missing events.
- control frames (acks, errors, pings, resyncs) go first and are bounded too.
The sender task writes frames that were serialised once by the backplane.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

from backend.realtime import messages
from backend.realtime.access import Principal
from backend.realtime.messages import Event
from backend.realtime.viewport import View

MAX_CONTROL = 64


@dataclass(slots=True)
class Subscription:
    channel: str
    view: View
    last_seq: int = 0  # highest seq queued: drops duplicates of history and live delivery
    pending: list[Event] | None = None  # live events held back while history is fetched


@dataclass(eq=False)
class Client:
    websocket: WebSocket
    principal: Principal
    max_queue: int
    max_positions: int
    subs: dict[str, Subscription] = field(default_factory=dict)
    dropped: int = 0
    coalesced: int = 0
    sent: int = 0
    errors: int = 0
    resyncs: int = 0  # resync frames queued for this client (it reloads the channel's state)
    close_code: int | None = None
    close_reason: str = ""
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    _positions: OrderedDict[str, Event] = field(default_factory=OrderedDict)
    _events: deque[Event] = field(default_factory=deque)
    _control: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_CONTROL))
    _lossy: set[str] = field(default_factory=set)
    # Set while the sender is parked with nothing to send; offer() resolves it. A bare future,
    # not an asyncio.Event: this is on the per-delivery path.
    _waiter: asyncio.Future[None] | None = None

    @property
    def queued(self) -> int:
        return len(self._positions) + len(self._events) + len(self._control)

    @property
    def queued_positions(self) -> int:
        return len(self._positions)

    def close(self, code: int, reason: str = "") -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.closing.set()

    def offer(self, event: Event) -> None:
        """A live event of a channel this client subscribes to (called by the hub)."""
        sub = self.subs.get(event.channel)
        if sub is None or self.close_code is not None:
            return
        if sub.pending is not None:
            sub.pending.append(event)
            return
        self.enqueue(sub, event)

    def enqueue(self, sub: Subscription, event: Event) -> None:
        if event.seq <= sub.last_seq or (sub.view.bbox is not None
                                         and not sub.view.matches(event)):
            return
        sub.last_seq = event.seq
        key = event.key
        if key is not None:
            positions = self._positions
            if key in positions:
                del positions[key]
                self.coalesced += 1
            positions[key] = event  # (re-)inserted last: queue stays in seq order
            if len(positions) > self.max_positions:
                positions.popitem(last=False)
                self.dropped += 1
        else:
            if len(self._events) >= self.max_queue:
                lost = self._events.popleft()
                self.dropped += 1
                if lost.channel not in self._lossy:
                    self._lossy.add(lost.channel)
                    self.resyncs += 1
                    self.control(messages.resync(lost.channel, "events dropped: client too slow"))
            self._events.append(event)
        self._wake()

    def control(self, text: str) -> None:
        self._control.append(text)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _next(self) -> str | None:
        if self.close_code is not None:  # closing (e.g. revoked): nothing more goes out
            return None
        if self._control:
            text = self._control.popleft()
            if text.startswith('{"type":"resync"'):
                self._lossy.clear()
            return text
        if self._events:
            return self._events.popleft().frame
        if self._positions:
            return self._positions.popitem(last=False)[1].frame
        return None

    async def run_sender(self) -> None:
        loop = asyncio.get_running_loop()
        send = self.websocket.send
        while True:
            while (text := self._next()) is not None:
                await send({"type": "websocket.send", "text": text})
                self.sent += 1
            self._waiter = loop.create_future()
            await self._waiter
