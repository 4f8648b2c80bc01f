"""The arrivals part of the data catalog's start (backend.datasets.wiring.setup calls it): the
refusal counters exposed to /metrics, and the table exchange's scheduler when
settings.dataset_exchange_tick_s > 0 (tests drive runs themselves)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from backend.exchange.counters import REFUSALS
from backend.exchange.tables import scheduler

if TYPE_CHECKING:
    from backend.api.deps import Resources
    from backend.realtime.hub import Hub


def start(resources: Resources, hub: Hub) -> list[asyncio.Task[None]]:
    resources.exchange_refusals = REFUSALS  # type: ignore[attr-defined]  # read by /metrics
    tick = resources.settings.dataset_exchange_tick_s
    if tick <= 0:
        return []
    return [asyncio.create_task(scheduler(resources.engine, hub, tick, resources.data_changed),
                                name="dataset-exchange")]
