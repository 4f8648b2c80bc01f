"""The cameras slice wires itself into the running app: the GB/T 28181 signalling endpoint and
its keepalive watchdog (when settings.sip_enabled), and the views kept fresh. main's lifespan
calls `setup` once the hub exists and `stop` at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.api.deps import Resources
    from backend.realtime.hub import Hub


@dataclass
class CamerasRuntime:
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for close in reversed(self.closers):
            await close()


async def setup(resources: Resources, hub: Hub) -> CamerasRuntime:
    """Call in the lifespan after the hub has started."""
    runtime = CamerasRuntime()
    from backend.cameras.views import keep_fresh
    from backend.catalog.camera_views import load_camera_views

    runtime.tasks.append(asyncio.create_task(
        keep_fresh(resources.engine, load_camera_views()), name="camera-views"))
    return runtime
