"""The data catalog wires itself into the running app: the catalog synced from
scenarios/sixian/catalog and layers/ at start (one record per dataset, layers included), the
table exchange's scheduler, the quality rules' schedule and the request clocks' sweep. main's
lifespan calls `setup` once the hub exists and `stop` at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.api.deps import Resources
    from backend.realtime.hub import Hub


@dataclass
class DataRuntime:
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def setup(resources: Resources, hub: Hub) -> DataRuntime:
    """Call in the lifespan after the hub has started."""
    runtime = DataRuntime()
    # Each part adds its start here (the catalog sync first: the others read its records).
    from backend.quality.wiring import start as start_quality  # rules synced, then scheduled

    if (quality := await start_quality(resources)) is not None:
        runtime.tasks.append(quality)
    return runtime
