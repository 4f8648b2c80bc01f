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
    from backend.cameras.status import CameraStatus
    from backend.ingest.gb28181.listener import SipListener
    from backend.realtime.hub import Hub


@dataclass
class CamerasRuntime:
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    listener: SipListener | None = None   # the SIP endpoint (its .port, .stats) when enabled
    status: CameraStatus | None = None    # its sink and the keepalive watchdog

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
    settings = resources.settings
    if settings.sip_enabled:
        from backend.cameras.status import CameraStatus
        from backend.ingest.gb28181.listener import SipListener

        runtime.status = CameraStatus(
            resources.engine, hub, counties={settings.sip_server_id[:6]},
            keepalive_s=settings.sip_keepalive_s, misses=settings.sip_offline_misses)
        runtime.listener = SipListener(
            settings.sip_host, settings.sip_port, sink=runtime.status,
            server_id=settings.sip_server_id, realm=settings.sip_realm,
            password=settings.sip_password, max_message_bytes=settings.sip_max_message_bytes)
        await runtime.listener.start()
        runtime.closers.append(runtime.listener.stop)
        runtime.tasks.append(asyncio.create_task(runtime.status.watch(), name="sip-watchdog"))
    return runtime
