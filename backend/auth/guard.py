"""The login guard: failed-login limits per user name and per client address, kept in
PostgreSQL, and a bound on concurrent password hashing.

Why the database: a lockout in memory is cleared by a restart, is not shared by the other
server processes, and had to be cleared when it grew. One row per failure (table
`login_failures`, migration 0012) gives a sliding window per name and per address; rows older
than the window are pruned as failures arrive, so the table stays small.

Why a gate on hashing: argon2id takes ~64 MiB per hash; 40 parallel anonymous logins took the
process from 349 MB to 1.6 GB. At most `concurrency` hashes run at once; a login that cannot
start within `wait_s` is answered 503 "busy, retry" instead of piling up, and beyond
`WAITERS_PER_SLOT` waiters per slot at once without waiting at all. The gate is a
counter polled from the event loop (not an asyncio.Semaphore, which binds to one loop, nor a
threading one, whose waiters would hold the worker threads every sync route needs).

Refusals are counted by reason in `LoginGuard.refusals` (app.state.resources.login_guard),
for /metrics: locked_name, locked_address, busy, wrong_password.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import sqlalchemy as sa

if TYPE_CHECKING:
    from backend.settings import Settings

MAX_KEY = 64  # longest name or address stored (the table's CHECK)
WAITERS_PER_SLOT = 16  # a flood beyond this is refused at once, not polled for
POLL_S = 0.05  # how often a waiting login looks for a free slot (a hash takes ~0.1-0.4 s)

_LOCKS = sa.text("""
SELECT
  (SELECT ARRAY[count(*), EXTRACT(EPOCH FROM min(at) + make_interval(secs => :w) - now())]
   FROM (SELECT at FROM login_failures WHERE username = :u AND NOT name_cleared
         AND at > now() - make_interval(secs => :w) ORDER BY at DESC LIMIT :n) s),
  (SELECT ARRAY[count(*), EXTRACT(EPOCH FROM min(at) + make_interval(secs => :w) - now())]
   FROM (SELECT at FROM login_failures WHERE address = :a
         AND at > now() - make_interval(secs => :w) ORDER BY at DESC LIMIT :m) s)""")


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # "locked_name" or "locked_address"
    retry_after_s: int

    def message(self) -> str:
        whom = ("this user name" if self.reason == "locked_name"
                else "your network address")
        return (f"登录失败次数过多 · Too many failed logins for {whom}: "
                f"try again in {self.retry_after_s} s")


class Busy(Exception):
    """Every hashing slot stayed taken for the whole wait."""


class LoginGuard:
    def __init__(self, engine: sa.Engine, *, window_s: float = 300.0, per_name: int = 5,
                 per_address: int = 30, concurrency: int = 4, wait_s: float = 5.0) -> None:
        self.engine = engine
        self.window_s = window_s
        self.per_name = per_name
        self.per_address = per_address
        self.concurrency = concurrency
        self.wait_s = wait_s
        self.refusals: Counter[str] = Counter()  # reason -> logins refused (for /metrics)
        self.hashing_now = 0
        self.waiting = 0
        self.hashing_peak = 0  # the most hashes ever run at once (tests, /metrics)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, engine: sa.Engine, settings: Settings) -> LoginGuard:
        return cls(engine, window_s=settings.login_window_s,
                   per_name=settings.login_max_failures_per_name,
                   per_address=settings.login_max_failures_per_address,
                   concurrency=settings.login_hash_concurrency, wait_s=settings.login_hash_wait_s)

    # Limits (blocking: call from a worker thread) -----------------------------------------

    def refusal(self, conn: sa.Connection, username: str, address: str) -> Refusal | None:
        """Whether a login for `username` from `address` is refused now, and for how long."""
        by_name, by_address = conn.execute(_LOCKS, {
            "u": username[:MAX_KEY], "a": address[:MAX_KEY], "w": self.window_s,
            "n": self.per_name, "m": self.per_address}).one()
        for reason, (count, wait), limit in (("locked_name", by_name, self.per_name),
                                              ("locked_address", by_address, self.per_address)):
            if count >= limit:
                self.refusals[reason] += 1
                return Refusal(reason, max(1, int(float(wait)) + 1))
        return None

    def check(self, username: str, address: str) -> Refusal | None:
        with self.engine.connect() as conn:
            return self.refusal(conn, username, address)

    def failed(self, conn: sa.Connection, username: str, address: str) -> None:
        """Record a failed login in the caller's transaction, and prune expired rows."""
        self.refusals["wrong_password"] += 1
        conn.execute(sa.text(
            "INSERT INTO login_failures (username, address) VALUES (:u, :a)"),
            {"u": username[:MAX_KEY], "a": address[:MAX_KEY]})
        conn.execute(sa.text(
            "DELETE FROM login_failures WHERE at < now() - make_interval(secs => :w)"),
            {"w": self.window_s})

    def succeeded(self, conn: sa.Connection, username: str) -> None:
        """A good password clears the name's count, not the address's (an attacker's own
        account must not reset the limit on the address they guess from)."""
        conn.execute(sa.text(
            "UPDATE login_failures SET name_cleared = true WHERE username = :u "
            "AND NOT name_cleared"), {"u": username[:MAX_KEY]})

    # Hashing gate (on the event loop) -----------------------------------------------------

    def _try_enter(self) -> bool:
        with self._lock:
            if self.hashing_now >= self.concurrency:
                return False
            self.hashing_now += 1
            self.hashing_peak = max(self.hashing_peak, self.hashing_now)
            return True

    def _leave(self) -> None:
        with self._lock:
            self.hashing_now -= 1

    @asynccontextmanager
    async def hashing(self) -> AsyncIterator[None]:
        """Hold one of `concurrency` hashing slots; Busy after `wait_s` without one."""
        if not self._try_enter():
            await self._wait()
        try:
            yield
        finally:
            self._leave()

    async def _wait(self) -> None:
        with self._lock:
            full = self.waiting >= self.concurrency * WAITERS_PER_SLOT
            if not full:
                self.waiting += 1
        if full:
            self._busy()
        try:
            deadline = time.monotonic() + self.wait_s
            while not self._try_enter():
                if time.monotonic() >= deadline:
                    self._busy()
                await asyncio.sleep(POLL_S)
        finally:
            with self._lock:
                self.waiting -= 1

    def _busy(self) -> NoReturn:
        self.refusals["busy"] += 1
        raise Busy
