"""The domain views wire themselves into the running app: loaded and checked against the
database at start (a broken file stops the start, as a broken layer file does), the county's
figures of every view computed, and recomputed and pushed on `domains.kpis` whenever a
dataset a view reads gets a new current version (the VersionListener: pushed, never polled).
GET /api/domains/{id}/figures without an area answers from `latest` at once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from backend.domains import engine as kpi
from backend.domains import service
from backend.domains.views import DomainView, ViewCatalog
from backend.realtime.messages import DOMAIN_KPIS

if TYPE_CHECKING:
    import sqlalchemy as sa

    from backend.api.deps import Resources
    from backend.realtime.hub import Hub

log = logging.getLogger("cityops.domains")


@dataclass
class DomainRuntime:
    views: ViewCatalog
    engine: sa.Engine
    timeout_ms: int
    hub: Hub | None = None
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # county-wide, by view
    recomputed: int = 0  # views recomputed after a notice (for tests and /metrics)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def compute(self, view: DomainView) -> dict[str, Any]:
        return service.compute_figures(self.engine, view, None, timeout_ms=self.timeout_ms)

    async def refresh(self, views: list[DomainView], *, publish: bool = True) -> None:
        """Recompute the county figures of `views` in a thread; publish each."""
        async with self._lock:  # one recomputation at a time: the newest figures win
            for view in views:
                figures = await run_in_threadpool(self.compute, view)
                self.latest[view.id] = figures
                self.recomputed += 1
                if publish and self.hub is not None:
                    await self.hub.publish(DOMAIN_KPIS, figures)

    async def moved(self, datasets: frozenset[str]) -> None:
        hit = [v for v in self.views.views if datasets & set(v.datasets)]
        log.info("datasets %s moved: recomputing %s", sorted(datasets), [v.id for v in hit])
        # The county's cards first, from the version store (the projection still holds the
        # old version): the push waits for no rebuild. Then the typed projections (once per
        # version), which the filtered figures asked for next read.
        await self.refresh(hit)
        await run_in_threadpool(kpi.refresh_projections, self.engine, sorted(datasets))


async def setup(resources: Resources, hub: Hub) -> DomainRuntime:
    """Call in the lifespan after the data catalog's setup (the listener and the records)."""
    settings = resources.settings
    views = service.load_views(settings, resources.catalog)
    await run_in_threadpool(service.check_against, resources.engine, views,
                            timeout_ms=max(settings.domain_query_timeout_ms, 10_000))
    runtime = DomainRuntime(views, resources.engine, settings.domain_query_timeout_ms, hub)
    # the projections behind their dataset (a version written while the server was down, a
    # field added since) are rebuilt; current ones are kept
    stale = await run_in_threadpool(kpi.stale_projections, resources.engine, views.infos)
    await run_in_threadpool(kpi.refresh_projections, resources.engine, stale)
    await runtime.refresh(views.views, publish=False)
    if resources.versions is not None:
        resources.versions.on(views.datasets, runtime.moved)
    resources.domains = runtime
    return runtime
