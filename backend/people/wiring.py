"""The population slice wires itself into the running app: at start, when the stored counts are
empty but persons exist (a fresh load), they are computed once (backend.people.aggregates).
main's lifespan calls `setup`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from backend.people import aggregates

if TYPE_CHECKING:
    from backend.api.deps import Resources

log = logging.getLogger("cityops.people")


def refresh_if_empty(engine: sa.Engine, k: int) -> int:
    with engine.begin() as conn:
        if not aggregates.is_empty(conn):
            return 0
        if not conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM persons)")).scalar():
            return 0
        rows = aggregates.refresh(conn, k)
    log.info("population stats computed at start: %d units", rows)
    return rows


async def setup(resources: Resources) -> None:
    await run_in_threadpool(refresh_if_empty, resources.engine, resources.settings.population_k)
