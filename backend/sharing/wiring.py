"""Governance and sharing at start: the layer grants hook (backend.auth.permissions), the
request clocks' sweep (every SWEEP_S) and the day's scores (every SCORE_S, re-scoring today).
The loops run only when the quality schedule does (settings.quality_interval_s > 0): the tests
drive the clocks and the scores themselves, as they drive the quality runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from backend.auth.permissions import use_layer_grants
from backend.catalog.quality_weights import quality_weights
from backend.quality.scores import score_all
from backend.sharing.grants import LAYER_GRANTS
from backend.sharing.service import sweep

if TYPE_CHECKING:
    from backend.api.deps import Resources

log = logging.getLogger("cityops.sharing")
SWEEP_S = 300.0
SCORE_S = 3600.0


async def _every(seconds: float, name: str, job: Callable[[], Any]) -> None:
    while True:
        try:
            done = await run_in_threadpool(job)
            if done:
                log.info("%s: %s", name, done)
        except asyncio.CancelledError:
            raise
        except Exception:  # retried at the next interval
            log.exception("%s failed", name)
        await asyncio.sleep(seconds)


def start(resources: Resources) -> list[asyncio.Task[None]]:
    """Call from backend.datasets.wiring.setup; the tasks are cancelled at shutdown."""
    engine = resources.engine
    LAYER_GRANTS.bind(engine)
    use_layer_grants(LAYER_GRANTS)
    if resources.settings.quality_interval_s <= 0:
        return []
    weights = quality_weights(resources.settings.catalog_dir)
    return [asyncio.create_task(_every(SWEEP_S, "request sweep", lambda: sweep(engine))),
            asyncio.create_task(_every(SCORE_S, "quality scores",
                                       lambda: score_all(engine, weights=weights)))]
