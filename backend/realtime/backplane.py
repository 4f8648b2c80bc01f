"""Backplanes: where sequence numbers and history live, and how events reach every hub.

Chosen by URL: `memory://` (one process; the hub itself numbers events) or `redis://host:port/db`
(several processes share numbering, history and delivery; see `backplane_redis`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

from backend.realtime.messages import Event, Revocation

Deliver = Callable[[Event], None]
Revoked = Callable[[Revocation], None]


class Backplane(ABC):
    """Numbers events per channel, keeps a bounded history, and hands every event
    (from this process or another) to `deliver` exactly once, in seq order per channel;
    revocations (not numbered, not kept) go to `revoked` in every process."""

    serialised: int = 0  # events encoded to JSON by this process

    @abstractmethod
    async def start(self, deliver: Deliver, revoked: Revoked | None = None) -> None: ...

    @abstractmethod
    async def revoke(self, revocation: Revocation) -> None:
        """Announce ended sessions to every process (this one included)."""

    @abstractmethod
    async def publish(self, channel: str, data: dict) -> int:
        """Publish and return the event's seq."""

    @abstractmethod
    async def history(self, channel: str, since: int) -> list[Event] | None:
        """Events with seq > since, oldest first; None when some of them are no longer kept
        (or `since` is from the future: another epoch of numbering) and the client must resync."""

    @abstractmethod
    async def last_seq(self, channel: str) -> int: ...

    @abstractmethod
    async def close(self) -> None: ...


def covers(first_kept: int | None, last: int, since: int) -> bool:
    """Whether a history holding seqs first_kept..last can answer 'everything after since'."""
    if since > last:
        return False
    if since == last:
        return True
    return first_kept is not None and first_kept <= since + 1


class MemoryBackplane(Backplane):
    def __init__(self, history: int) -> None:
        self._size = history
        self._seq: dict[str, int] = {}
        self._history: dict[str, deque[Event]] = {}
        self._deliver: Deliver | None = None
        self._revoked: Revoked | None = None

    async def start(self, deliver: Deliver, revoked: Revoked | None = None) -> None:
        self._deliver = deliver
        self._revoked = revoked

    async def revoke(self, revocation: Revocation) -> None:
        if self._revoked is not None:
            self._revoked(revocation)

    async def publish(self, channel: str, data: dict) -> int:
        return self.publish_now(channel, data)

    def publish_now(self, channel: str, data: dict) -> int:
        """Synchronous: no await between numbering and delivery, so seq order is delivery order."""
        seq = self._seq.get(channel, 0) + 1
        self._seq[channel] = seq
        event = Event.build(channel, seq, data)
        self.serialised += 1
        kept = self._history.get(channel)
        if kept is None:
            kept = self._history[channel] = deque(maxlen=self._size)
        kept.append(event)
        if self._deliver is not None:
            self._deliver(event)
        return seq

    async def history(self, channel: str, since: int) -> list[Event] | None:
        kept = self._history.get(channel) or deque()
        first = kept[0].seq if kept else None
        if not covers(first, self._seq.get(channel, 0), since):
            return None
        return [e for e in kept if e.seq > since]

    async def last_seq(self, channel: str) -> int:
        return self._seq.get(channel, 0)

    async def close(self) -> None:
        self._deliver = None
        self._revoked = None


def create_backplane(url: str, *, history: int) -> Backplane:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryBackplane(history)
    if scheme in ("redis", "rediss"):
        from backend.realtime.backplane_redis import RedisBackplane

        return RedisBackplane(url, history=history)
    raise ValueError(f"unsupported hub backplane URL {url!r} (memory:// or redis://)")
