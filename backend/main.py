"""The application factory. Nothing is built at import time: resources open in the lifespan."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

from backend import observability
from backend.api import errors
from backend.api.deps import Resources
from backend.api.headers import SecurityHeaders
from backend.api.limits import BodyLimit, EdgeCounters
from backend.api.routes import include_routers
from backend.audit.anchoring import AuditAnchors
from backend.auth.permissions import Permission, requires
from backend.auth.wiring import setup as setup_auth
from backend.cameras.wiring import setup as setup_cameras
from backend.catalog.layers import load_catalog, model_columns
from backend.datasets.wiring import setup as setup_data
from backend.db.engine import create_engine, resolve_urls
from backend.domains.wiring import setup as setup_domains
from backend.incidents.calendar import WorkCalendar
from backend.incidents.categories import load_categories
from backend.incidents.photos import PhotoDecoder
from backend.incidents.supervision import load_category_book, supervision_loop
from backend.maps.labels import glyph_store
from backend.maps.service import build_tile_service
from backend.people.wiring import setup as setup_people
from backend.positions import build_position_pipeline, start_gateway, start_mqtt
from backend.realtime.hub import Hub
from backend.settings import Settings, get_settings
from backend.traffic.wiring import setup as setup_traffic
from backend.transit.monitor import start_monitor
from backend.vehicles.fleet import FleetDirectory, geofence_sources
from backend.wall.wiring import setup as setup_wall

mimetypes.add_type("text/javascript", ".mjs")  # MapLibre 5+ ships ES modules

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>cityops</title>
<body style="background:#06111d;color:#cfe3f5;font-family:sans-serif;padding:2em">
<h1>前端尚未构建 · The console is not built</h1>
<p>Run <code>make demo</code>, or build it:
<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code></p>
<p>API: <a style="color:#4fc3f7" href="/api/layers">/api/layers</a> ·
<a style="color:#4fc3f7" href="/ogc/">/ogc/</a></p></body>"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Fail fast on a broken layer file, before any connection is opened.
    catalog = load_catalog(settings.layers_dir, known_columns=model_columns())
    fences = geofence_sources(settings, catalog)
    calendar = WorkCalendar.load(*settings.work_calendars)
    categories = load_categories(settings.case_categories)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        urls = resolve_urls(settings)
        # Fixed-size pools (no overflow: no sessions opened and closed under bursts).
        engine = create_engine(urls.app, pool_size=settings.db_pool_size, max_overflow=0)
        # Tiles get their own pool without the per-checkout ping: one round trip less a tile.
        tile_engine = create_engine(urls.app, pool_size=settings.db_pool_size, max_overflow=0,
                                    pre_ping=False)
        app.state.resources = Resources(
            settings=settings,
            engine=engine,
            catalog=catalog,
            tiles=build_tile_service(
                catalog,
                tile_engine,
                cache_bytes=settings.tile_cache_bytes,
                cache_enabled=settings.tile_cache_enabled,
                version_ttl=settings.tile_version_ttl_s,
            ),
            glyphs=glyph_store(settings),
        )
        # The audit chain's head, signed outside the database (backend.audit.anchoring).
        app.state.audit_anchors = AuditAnchors(settings, engine)
        app.state.audit_anchors.start()
        app.state.photo_decoder = PhotoDecoder.from_settings(settings)  # pixel cap, slots
        app.state.resources.calendar = calendar
        app.state.engines = {"main": engine, "tiles": tile_engine}  # pools seen on /metrics
        await run_in_threadpool(load_category_book, engine, categories,
                                settings.case_categories.name)
        hub = Hub.from_settings(settings)
        await hub.start()
        app.state.hub = hub  # the live event hub (backend.api.deps.get_hub)
        setup_auth(app.state.resources, hub)  # sessions, login guard, revocations
        resources = app.state.resources
        resources.fleet = FleetDirectory(engine, geofences=fences)
        # levels, index, alerts: the traffic service matches every position
        app.state.traffic = await setup_traffic(resources, hub)
        # storage, alarm rules and hub pushes, with the traffic service beside the rules
        resources.positions = build_position_pipeline(settings, engine, hub, resources.fleet,
                                                      extra=[resources.traffic])
        gateway = await start_gateway(settings, resources.positions, engine)
        app.state.jt808 = gateway  # None unless settings.jt808_enabled
        mqtt = await start_mqtt(settings, resources.positions)
        app.state.mqtt = mqtt  # None unless settings.mqtt_url
        # the GB/T 28181 endpoint, camera status and views (backend.cameras.wiring)
        app.state.cameras = await setup_cameras(resources, hub)
        # the data catalog, table exchange, quality schedule, request clocks (issue 12)
        app.state.data = await setup_data(resources, hub)
        await setup_domains(resources, hub)  # views checked, KPIs computed and pushed
        app.state.wall = await setup_wall(resources, hub)  # wall.header pushes (issue 14)
        await setup_people(resources)  # population counts computed when missing (issue 13)
        # bus bunching alarms (backend.transit.monitor); tests call its tick() directly
        app.state.transit_monitor = start_monitor(settings, engine, resources.fleet, hub)
        # Background work of this process, cancelled at shutdown.
        background = [asyncio.create_task(supervision_loop(
            engine, calendar, hub, settings.supervision_interval_s))]
        if settings.live_scenario and gateway is not None:
            from backend.simulation.live import loop_scenario

            background.append(asyncio.create_task(
                loop_scenario(settings.live_scenario, settings, engine, gateway.port)
            ))
        if settings.live_traffic_scenario:
            from backend.simulation.live import loop_traffic

            background.append(asyncio.create_task(
                loop_traffic(settings.live_traffic_scenario, settings, engine)))
        sip = app.state.cameras.listener
        if settings.live_camera_scenario and sip is not None:
            from backend.simulation.live import loop_cameras

            background.append(asyncio.create_task(
                loop_cameras(settings.live_camera_scenario, settings, engine, sip.port)))
        if settings.live_domains_s:
            from backend.simulation.live import loop_domains

            background.append(asyncio.create_task(loop_domains(settings, engine)))
        try:
            yield
        finally:
            await app.state.transit_monitor.stop()
            await app.state.cameras.stop()
            await app.state.wall.stop()
            await app.state.data.stop()
            await app.state.traffic.stop()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if gateway is not None:
                await gateway.stop()
            if mqtt is not None:
                await mqtt.stop()
            await run_in_threadpool(resources.positions.close)  # a batch in flight finishes
            await hub.close()
            await app.state.audit_anchors.stop()  # the head as this process leaves it
            engine.dispose()
            tile_engine.dispose()

    app = FastAPI(
        title="cityops",
        summary="泗县城市综合运行管理平台 · City operations: layers, tiles, features",
        version="0.1.0",
        lifespan=lifespan,
        # The API description is for developers; a production server does not publish it.
        **({"openapi_url": None, "docs_url": None, "redoc_url": None}
           if settings.env == "production" else {}),
    )
    errors.install(app)
    # JSON, GeoJSON and glyphs; tiles arrive already gzipped and pass through untouched.
    # Already-compressed media (photos, zips) would only cost CPU. Level 5, not Starlette's 9:
    # compression runs on the event loop, and a queue page of 300 cases (295 KB) took ~6 ms
    # at 9 and ~1.4 ms at 5, for 17 KB instead of 15 KB on the wire.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5, exclude_content_types=(
        *DEFAULT_EXCLUDED_CONTENT_TYPES, "application/zip", "image/jpeg", "image/png",
        "image/webp"))
    # Outermost last: bodies are bounded before anything reads them; every answer, errors
    # included, gets the security headers.
    app.state.edge = EdgeCounters()  # requests refused at the edge, by reason (for /metrics)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, settings=settings, counters=app.state.edge)
    include_routers(app)
    observability.install(app, settings)  # /metrics, readiness; its middleware is outermost
    if (settings.frontend_dist / "index.html").exists():
        app.mount("/", StaticFiles(directory=settings.frontend_dist, html=True), name="console")
    else:

        @app.get("/", include_in_schema=False, dependencies=[requires(Permission.PUBLIC)])
        def not_built() -> HTMLResponse:
            return HTMLResponse(NOT_BUILT)

    return app
