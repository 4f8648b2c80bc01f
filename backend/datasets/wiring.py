"""The data catalog wires itself into the running app: the catalog synced from
scenarios/sixian/catalog and layers/ at start (one record per dataset, layers included), the
table exchange's scheduler, the quality rules' schedule and the request clocks' sweep. main's
lifespan calls `setup` once the hub exists and `stop` at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from backend.datasets.sync import sync_from
from backend.datasets.versions_listener import VersionListener
from backend.exchange.wiring import start as start_exchange
from backend.quality.wiring import start as start_quality
from backend.sharing.wiring import start as start_sharing

if TYPE_CHECKING:
    from backend.api.deps import Resources
    from backend.realtime.hub import Hub


@dataclass
class DataRuntime:
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    versions: VersionListener | None = None

    async def stop(self) -> None:
        if self.versions is not None:
            await self.versions.stop()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def setup(resources: Resources, hub: Hub) -> DataRuntime:
    """Call in the lifespan after the hub has started."""
    runtime = DataRuntime()
    url = resources.engine.url.set(drivername="postgresql")
    runtime.versions = resources.versions = VersionListener(
        url.render_as_string(hide_password=False))
    await runtime.versions.start()  # parts register their datasets on it as they wire up
    # the catalog records first: the other parts read them
    await run_in_threadpool(sync_from, resources.settings, resources.engine, resources.catalog)
    runtime.tasks += start_exchange(resources, hub)  # the table exchange's scheduler
    if (quality := await start_quality(resources)) is not None:  # rules synced, then scheduled
        runtime.tasks.append(quality)
    runtime.tasks += start_sharing(resources)  # layer grants, request sweep, daily scores
    return runtime
