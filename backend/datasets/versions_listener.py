"""Hears when a dataset's current version moves, from any process: PostgreSQL's NOTIFY on
`cityops_dataset_version` (migration 0022's trigger on datasets.current_version_id) read on the
event loop without blocking it (the connection's socket under `loop.add_reader`).

Parts that keep figures derived from datasets (the domain views' KPIs, the wall's weather and
duty) register a callback for the datasets they read; a burst of versions is coalesced into
one call per callback with every dataset id that moved (`debounce_s`). A lost connection is
reopened with a growing pause, and every callback is then called with all its datasets: a
notice may have been missed while it was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

import psycopg2
import psycopg2.extensions

from backend.datasets.models import DATASET_VERSION_CHANNEL

log = logging.getLogger("cityops.datasets.versions")
Callback = Callable[[frozenset[str]], Awaitable[None]]


class VersionListener:
    def __init__(self, dsn: str, *, debounce_s: float = 0.2, retry_max_s: float = 30.0) -> None:
        self._dsn = dsn
        self._debounce_s = debounce_s
        self._retry_max_s = retry_max_s
        self._callbacks: list[tuple[frozenset[str], Callback]] = []
        self._pending: set[str] = set()
        self._flush: asyncio.TimerHandle | None = None
        self._conn: psycopg2.extensions.connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost: asyncio.Event | None = None
        self.notices = 0  # notices received (for /metrics and tests)

    def on(self, datasets: Iterable[str], callback: Callback) -> None:
        """Call `callback(moved ids)` when any of `datasets` has a new current version."""
        self._callbacks.append((frozenset(datasets), callback))

    async def start(self) -> None:
        self._lost = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="dataset-version-listener")

    async def stop(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close()

    async def _run(self) -> None:
        pause = 0.5
        first = True
        while True:
            try:
                await asyncio.get_running_loop().run_in_executor(None, self._connect)
            except psycopg2.Error as exc:
                log.warning("dataset version listener: cannot connect (%s); retrying in %.1f s",
                            exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._retry_max_s)
                continue
            pause = 0.5
            if not first:  # notices may have been missed while the connection was down
                self._queue(set().union(*(ids for ids, _ in self._callbacks)))
            first = False
            assert self._conn is not None and self._lost is not None
            loop = asyncio.get_running_loop()
            self._lost.clear()
            loop.add_reader(self._conn.fileno(), self._readable)
            try:
                await self._lost.wait()
            finally:
                with contextlib.suppress(Exception):
                    loop.remove_reader(self._conn.fileno())
                self._close()

    def _connect(self) -> None:
        conn = psycopg2.connect(self._dsn, application_name="cityops-version-listener")
        conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with conn.cursor() as cur:
            cur.execute(f"LISTEN {DATASET_VERSION_CHANNEL}")
        self._conn = conn

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _readable(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            conn.poll()
        except psycopg2.Error as exc:
            log.warning("dataset version listener: connection lost (%s)", exc)
            if self._lost is not None:
                self._lost.set()
            return
        moved = set()
        while conn.notifies:
            moved.add(conn.notifies.pop(0).payload)
        if moved:
            self.notices += len(moved)
            self._queue(moved)

    def _queue(self, moved: set[str]) -> None:
        self._pending |= moved
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(self._debounce_s, self._fire)

    def _fire(self) -> None:
        self._flush = None
        moved, self._pending = frozenset(self._pending), set()
        for datasets, callback in self._callbacks:
            hit = moved & datasets
            if hit:
                task = asyncio.ensure_future(callback(hit))
                task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("dataset version callback failed", exc_info=task.exception())
