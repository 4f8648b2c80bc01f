"""Who may use the hub, and which channels. Interim: one configured token grants every channel;
users and roles (grid-incidents) will map a principal to its channels here."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from backend.realtime.messages import CHANNELS


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    channels: frozenset[str]


def authenticate(token: str, configured: str | None) -> Principal | None:
    if not configured or not hmac.compare_digest(token.encode(), configured.encode()):
        return None
    return Principal(name="configured-token", channels=CHANNELS)


def may_subscribe(principal: Principal, channel: str) -> bool:
    return channel in principal.channels
