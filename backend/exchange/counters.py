"""Refusals of arriving data, by path (upload, push, exchange) and reason, kept in memory for
/metrics (backend.observability.collectors.COUNTER_TABLE reads `resources.exchange_refusals`,
set by backend.exchange.wiring). A Counter's increment is one step under the GIL: threads may
count freely."""

from __future__ import annotations

from collections import Counter

REFUSALS: Counter[tuple[str, str]] = Counter()


def refused(path: str, reason: str) -> None:
    REFUSALS[(path, reason)] += 1
