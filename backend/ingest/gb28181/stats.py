"""The SIP listener's counters (read by backend.observability as cityops_sip_*)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SipStats:
    """Every message read is counted once in `messages` and, when refused, in `rejected`."""

    datagrams: int = 0
    connections: int = 0
    open_connections: int = 0
    messages: int = 0
    requests: Counter[str] = field(default_factory=Counter)     # by method
    responses_sent: Counter[str] = field(default_factory=Counter)  # by status code
    responses_received: int = 0
    retransmissions: int = 0      # UDP requests seen before: answered again, not acted on
    challenges: int = 0
    registrations: int = 0
    unregistrations: int = 0
    keepalives: int = 0
    catalog_items: int = 0
    alarms: int = 0
    rejected: Counter[str] = field(default_factory=Counter)    # by reason
    closed: Counter[str] = field(default_factory=Counter)      # TCP connections, by why
