"""The wall slice wires itself into the running app: the `wall.header` event is pushed when
any of its datasets gets a new current version (heard on resources.versions, from any
process) and when the header changes by the clock alone (a shift starts or ends, a warning
comes into force or expires, the weather turns stale). main's lifespan calls `setup` after
the data catalog's (which starts the version listener) and `stop` at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from backend.realtime.messages import WALL_HEADER
from backend.wall.service import DATASETS, TZ, push_header

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from backend.api.deps import Resources
    from backend.realtime.hub import Hub

log = logging.getLogger("cityops.wall")
MAX_WAIT_S = 3600.0  # at least an hourly push, whatever happens
MIN_WAIT_S = 0.5     # the next change is at most this soon (clock edges just passed)
RETRY_S = 30.0


@dataclass
class WallRuntime:
    engine: Engine
    hub: Hub
    pushes: int = 0  # events published (for tests and /metrics)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def on_versions(self, moved: frozenset[str]) -> None:
        self._wake.set()

    async def run(self) -> None:
        publish = False  # the first pass only learns when the header next changes
        while True:
            try:
                built = await asyncio.to_thread(push_header, self.engine)
            except Exception:
                log.exception("wall header: cannot read its datasets; retrying")
                await asyncio.sleep(RETRY_S)
                continue
            if publish:
                await self.hub.publish(WALL_HEADER, built.data)
                self.pushes += 1
            wait = MAX_WAIT_S
            if built.next_change is not None:
                wait = (built.next_change - datetime.now(TZ)).total_seconds()
                wait = min(MAX_WAIT_S, max(MIN_WAIT_S, wait))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            publish = True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def setup(resources: Resources, hub: Hub) -> WallRuntime:
    """Call in the lifespan after backend.datasets.wiring.setup (resources.versions)."""
    runtime = WallRuntime(resources.engine, hub)
    if resources.versions is not None:
        resources.versions.on(DATASETS, runtime.on_versions)
    runtime._task = asyncio.create_task(runtime.run(), name="wall-header")
    return runtime
