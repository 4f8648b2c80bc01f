"""What an operator sees: Prometheus metrics (`metrics`, `collectors`), readiness (`ready`) and
structured logs (`logs`). `install` wires them into an app (backend.main)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from backend.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """The per-app registry and readiness checks on app.state, the routes, and the measuring
    middleware. Call it after every other `add_middleware`: it must be the outermost, so that
    its times and statuses include what the others answer (413, gzip)."""
    from backend.observability.metrics import AppMetrics, ObserveMiddleware
    from backend.observability.ready import Readiness
    from backend.observability.router import router

    app.state.metrics = AppMetrics(app)
    app.state.readiness = Readiness(app)
    app.include_router(router)
    app.add_middleware(ObserveMiddleware, metrics=app.state.metrics,
                       access=settings.access_log)
