"""The server's own part in the flow: at start, sync the case categories from their file;
then, every `supervision_interval_s`, flag overdue cases as supervised (督办) and push it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from backend.audit.chain import append as audit
from backend.incidents import service
from backend.incidents.calendar import WorkCalendar
from backend.incidents.categories import CategoryBook, sync_categories
from backend.realtime.hub import Hub
from backend.realtime.messages import INCIDENTS

log = logging.getLogger("cityops.incidents")


def load_category_book(engine: sa.Engine, book: CategoryBook, source: str) -> None:
    with engine.begin() as conn:
        sync_categories(conn, book)
        audit(conn, "system", "categories.sync", "case_categories", None,
              {"source": source, "categories": len(book.categories),
               "departments": len(book.departments)})


def supervise_once(engine: sa.Engine, calendar: WorkCalendar, now: datetime | None = None
                   ) -> list[service.Change]:
    """One sweep: each case in its own short transaction (the audit chain's lock is held only
    for one case at a time, and never while waiting for another case's row)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        candidates = service.overdue_candidates(conn, now)
    changes = []
    for incident_id in candidates:
        with engine.begin() as conn:
            change = service.supervise_case(conn, incident_id, calendar, now)
        if change is not None:
            changes.append(change)
    return changes


async def supervision_loop(engine: sa.Engine, calendar: WorkCalendar, hub: Hub,
                           interval_s: float) -> None:
    while True:
        try:
            changes = await run_in_threadpool(supervise_once, engine, calendar)
            for change in changes:
                await hub.publish(INCIDENTS, change.data)
            if changes:
                log.info("督办: %d overdue case(s) flagged", len(changes))
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed sweep is retried at the next interval
            log.exception("supervision sweep failed")
        await asyncio.sleep(interval_s)
