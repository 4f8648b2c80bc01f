"""The keepalive watchdog, pure: which online devices are now offline.

A device is offline when it has missed `misses` keepalives (its own interval, else the
default) since it was last heard from, or when its registration has expired."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal


@dataclass(frozen=True, slots=True)
class DeviceState:
    code: str
    online: bool
    last_seen: datetime | None      # the latest of its register and its keepalives
    expires_at: datetime | None     # when its registration runs out
    keepalive_s: int | None = None  # its interval; None: the default


@dataclass(frozen=True, slots=True)
class WentOffline:
    code: str
    why: Literal["keepalive", "expired"]
    last_seen: datetime | None


def overdue(devices: Iterable[DeviceState], now: datetime, *, interval_s: int,
            misses: int) -> list[WentOffline]:
    events: list[WentOffline] = []
    for d in devices:
        if not d.online:
            continue
        if d.expires_at is not None and d.expires_at <= now:
            events.append(WentOffline(d.code, "expired", d.last_seen))
            continue
        allowed = timedelta(seconds=(d.keepalive_s or interval_s) * misses)
        if d.last_seen is None or now - d.last_seen > allowed:
            events.append(WentOffline(d.code, "keepalive", d.last_seen))
    return events
