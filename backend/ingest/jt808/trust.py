"""Which terminals the gateway trusts: the interface between the gateway and the fleet register.

JT/T 808 (2013 s8.5, 0x8100) has the platform register only terminals it knows: the result
says why one is refused (1 vehicle already registered, 2 no such vehicle in the database,
3 terminal already registered, 4 no such terminal in the database). The gateway asks a
``TerminalTrust`` (backend.vehicles.terminals implements it on PostgreSQL); its calls block, so
the gateway runs them on a worker thread.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from .messages import Register

REGISTER_OK = 0
REGISTER_VEHICLE_TAKEN = 1    # unused: a new registration replaces the old code
REGISTER_NO_VEHICLE = 2
REGISTER_TERMINAL_TAKEN = 3   # unused, as 1
REGISTER_NO_TERMINAL = 4


def phone_key(digits: str) -> str:
    """The terminal's phone as the register keys it: the BCD digits without leading zeros, so
    that a 2013 header (12 digits) and a 2019 header (20 digits) name the same terminal."""
    if not digits.isdigit() or len(digits) > 20:
        raise ValueError(f"a terminal phone is 1-20 digits, not {digits!r}")
    return digits.lstrip("0") or "0"


@dataclass(frozen=True, slots=True)
class Registration:
    result: int                   # the 0x8100 result
    reason: str                   # short, fixed set: the refusal counter's key ("ok" on success)
    auth_code: str | None = None  # only on success


@dataclass(frozen=True, slots=True)
class TerminalSession:
    """What an authenticated connection speaks for. ``generation`` identifies the registration
    whose code was used: a newer registration or a revocation ends the session."""

    phone: str         # phone_key()
    vehicle_id: str    # the fleet register's id: what positions are stored under
    generation: int


class TerminalTrust(Protocol):
    def register(self, phone: str, reg: Register, peer: str) -> Registration: ...

    def authenticate(self, phone: str, code: bytes) -> TerminalSession | None: ...

    def still_valid(self, sessions: Collection[TerminalSession]) -> set[TerminalSession]: ...
