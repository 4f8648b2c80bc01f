"""What the SIP listener asks of and tells the rest of the app (backend.cameras.status
implements it over the database). Every method is awaited by the listener; an implementation
does its blocking work in a thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from .manscdp import AlarmNotify, CatalogItem

Transport = Literal["udp", "tcp"]


@dataclass(frozen=True, slots=True)
class DeviceSecret:
    """A device the registry knows. `ha1`: MD5(id:realm:password) of its own password, or None
    when the realm secret applies."""

    ha1: str | None


@dataclass(frozen=True, slots=True)
class Registration:
    device_id: str
    transport: Transport
    remote_addr: str          # host:port it registered from
    expires_s: int
    at: datetime


class DeviceSink(Protocol):
    async def device_secret(self, device_id: str) -> DeviceSecret | None:
        """None: no such device (the REGISTER is refused 403)."""
        ...

    async def registered(self, registration: Registration) -> None: ...

    async def unregistered(self, device_id: str, at: datetime) -> None: ...

    async def keepalive(self, device_id: str, at: datetime) -> None: ...

    async def catalog(self, device_id: str, items: Sequence[CatalogItem], sum_num: int) -> int:
        """Apply one Catalog response MESSAGE's items; returns how many were applied."""
        ...

    async def alarm(self, device_id: str, alarm: AlarmNotify) -> bool:
        """Store and push an alarm; False when it was a repeat (or names no known camera)."""
        ...
