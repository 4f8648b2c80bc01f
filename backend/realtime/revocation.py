"""Ended sessions as the hub sees them: which live sockets to close (4410), who else to tell
(the session cache), and a periodic check for what no message announced.

A socket whose session is resolved while a revocation passes by would otherwise stay open: the
last revocations are kept, numbered, and a socket is checked against those that arrived after
its authentication began (`mark` before, `admit` after attaching). Numbers, not times: a user
who logs in again after being disabled must not be closed by the old revocation.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable

from starlette.concurrency import run_in_threadpool

from backend.realtime import messages
from backend.realtime.client import Client
from backend.realtime.messages import Revocation

log = logging.getLogger("cityops.realtime")

KEPT = 256  # revocations remembered for sockets that were authenticating meanwhile


class Revocations:
    def __init__(self, clients: set[Client]) -> None:
        self._clients = clients  # the hub's live set
        self._listeners: list[Callable[[Revocation], None]] = []
        self._recent: deque[tuple[int, Revocation]] = deque(maxlen=KEPT)
        self._seq = 0
        self._watcher: asyncio.Task[None] | None = None
        self.closed = 0  # sockets closed because their session ended
        self.unsent = 0  # revocations this process could not announce (backplane away)

    def on_revoke(self, listener: Callable[[Revocation], None]) -> None:
        """Call `listener` for every revocation, from any process (on the hub's loop)."""
        self._listeners.append(listener)

    def received(self, revocation: Revocation) -> None:
        """A revocation from the backplane (this process's or another's)."""
        for listener in self._listeners:
            try:
                listener(revocation)
            except Exception:  # one listener must not keep sockets open
                log.exception("a revocation listener failed")
        self._seq += 1
        self._recent.append((self._seq, revocation))
        for client in list(self._clients):
            if _ends(revocation, client):
                self.end(client, revocation.reason)

    def mark(self) -> int:
        """Taken before a socket's session is resolved; passed to `admit` after."""
        return self._seq

    def admit(self, client: Client, mark: int) -> None:
        """Close a just-attached socket that a revocation since `mark` ended."""
        for seq, revocation in self._recent:
            if seq > mark and _ends(revocation, client):
                self.end(client, revocation.reason)
                return

    def end(self, client: Client, reason: str) -> None:
        if client.close_code is None:
            self.closed += 1
        client.close(messages.CLOSE_REVOKED, f"session ended: {reason}"[:120])

    def watch(self, alive: Callable[[Iterable[bytes]], set[bytes]], interval_s: float) -> None:
        """Every `interval_s`, close the sockets whose session `alive` (blocking: run in a
        worker thread) no longer finds: expiry, and revocations no message announced."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(alive, interval_s))

    async def _watch(self, alive: Callable[[Iterable[bytes]], set[bytes]],
                     interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            users = [c for c in self._clients if c.principal.session is not None]
            if not users:
                continue
            try:
                valid = await run_in_threadpool(alive, {c.principal.session for c in users})
            except Exception:  # the database away: try again next round
                log.exception("checking live sessions failed")
                continue
            for client in users:
                if client.principal.session not in valid:
                    self.end(client, "expired or revoked")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)


def _ends(revocation: Revocation, client: Client) -> bool:
    who = client.principal
    if who.user_id != revocation.user_id:
        return False
    return revocation.session is None or (
        who.session is not None and who.session.hex() == revocation.session)
