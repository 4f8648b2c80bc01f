"""The quality rules in the running app: synced from the catalog at start (after the catalog's
own sync: backend.datasets.wiring calls this after it), then every dataset with data run every
settings.quality_interval_s (0: no schedule; tests drive the runs), each run in a worker
thread so that the event loop never waits on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from backend.quality.rules import sync_rules
from backend.quality.runner import run_all, run_new_versions

if TYPE_CHECKING:
    from backend.api.deps import Resources

log = logging.getLogger("cityops.quality")


async def start(resources: Resources) -> asyncio.Task[None] | None:
    """Sync the rules; the schedule's task (None when quality_interval_s is 0)."""
    settings = resources.settings
    report = await asyncio.to_thread(sync_rules, resources.engine, settings.catalog_dir)
    for problem in report.problems:
        log.warning("quality rule not synced: %s", problem)
    if settings.quality_interval_s <= 0:
        return None
    return asyncio.create_task(_schedule(resources, settings.quality_interval_s))


async def _schedule(resources: Resources, interval_s: float) -> None:
    """New versions are checked as soon as they are announced (resources.data_changed, set by
    backend.exchange.notify.after_version), every dataset every interval_s."""
    changed = resources.data_changed
    kw = {"layers": resources.catalog, "catalog_dir": resources.settings.catalog_dir}
    full_due = time.monotonic()
    while True:
        try:
            await asyncio.to_thread(run_new_versions, resources.engine, resources.calendar, **kw)
            if time.monotonic() >= full_due:
                full_due = time.monotonic() + interval_s
                await asyncio.to_thread(run_all, resources.engine, resources.calendar, **kw)
        except Exception:  # a failing dataset must not stop the schedule
            log.exception("scheduled quality run failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=full_due - time.monotonic())
        changed.clear()
