"""Keep the demo alive: run a scenario against this server's own JT/T 808 gateway, the
traffic scenario against its own HTTP ingest and the camera scenario against its own GB/T 28181
SIP endpoint, again and again, and post new versions of the domain datasets through the upload
path, in the background of the server process (started by `cityops demo`)."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import datetime

import sqlalchemy as sa

from backend.catalog.scenarios import load_scenario
from backend.settings import Settings
from backend.simulation.runner import run_scenario
from backend.simulation.traffic_run import run_traffic

log = logging.getLogger("cityops.simulation")


async def loop_scenario(name: str, settings: Settings, engine: sa.Engine, port: int) -> None:
    scenario = load_scenario(name, settings.scenarios_dir)
    codes: dict[str, str] = {}  # the terminals keep their auth codes from run to run
    while True:
        try:
            report = await run_scenario(scenario, engine=engine, host=settings.jt808_host,
                                        port=port, codes=codes)
            log.info("scenario %s: %d fixes acknowledged, %d failed", name,
                     report.fixes_acked, report.fixes_failed)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed run must not take the server down; try again shortly
            log.exception("scenario %s failed; retrying in 10 s", name)
            await asyncio.sleep(10)


def server_url(settings: Settings) -> str:
    """This server's own base URL on loopback (a wildcard bind is reached on 127.0.0.1)."""
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    scheme = "https" if settings.tls_certfile else "http"
    return f"{scheme}://{host}:{settings.port}"


async def _listening(host: str, port: int) -> None:
    """Wait until the server accepts connections (uvicorn binds after the lifespan starts)."""
    while True:
        try:
            await asyncio.to_thread(socket.create_connection((host, port), 2).close)
            return
        except OSError:
            await asyncio.sleep(1.0)


async def loop_traffic(name: str, settings: Settings, engine: sa.Engine) -> None:
    """The traffic scenario in real time, again and again: each run starts now, seeds its
    typical speeds and files its own accident case."""
    from backend.catalog.traffic_scenarios import load_traffic

    scenario = load_traffic(name, settings.scenarios_dir)
    token = settings.effective_ingest_token()
    if not token:
        log.warning("traffic scenario %s: no ingest token configured; not started", name)
        return
    url = server_url(settings)
    await _listening(url.split("//", 1)[1].rsplit(":", 1)[0], settings.port)
    while True:
        try:
            report = await run_traffic(scenario, engine=engine, base_url=url, token=token)
            log.info("traffic scenario %s: %d of %d fixes accepted, case %s", name,
                     report.fixes_accepted, report.fixes_sent, report.case_no)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed run must not take the server down; try again shortly
            log.exception("traffic scenario %s failed; retrying in 30 s", name)
            await asyncio.sleep(30)


async def loop_cameras(name: str, settings: Settings, engine: sa.Engine, port: int) -> None:
    """The camera scenario's compressed day, again and again, against this server's own SIP
    endpoint on `port`, with its realm secret."""
    from backend.catalog.camera_scenarios import load_cameras_day
    from backend.simulation.camera_day import run_cameras_day

    scenario = load_cameras_day(name, settings.scenarios_dir)
    if not settings.sip_password:
        log.warning("camera scenario %s: no SIP realm secret configured; not started", name)
        return
    host = settings.sip_host if settings.sip_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    while True:
        try:
            report = await run_cameras_day(
                scenario, engine=engine, host=host, port=port,
                server_id=settings.sip_server_id, realm=settings.sip_realm,
                password=settings.sip_password)
            log.info("%s", "; ".join(report.lines()))
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed run must not take the server down; try again shortly
            log.exception("camera scenario %s failed; retrying in 30 s", name)
            await asyncio.sleep(30)


# The domain datasets the live demo posts again: every tick (cases arrive and finish, visitors
# come), each hour (the weather at the hour), each day (the windows around now).
EVERY_TICK = ("service_cases", "visitor_flow")
HOURLY = ("weather_conditions", "weather_warnings")
DAILY = ("duty_roster", "cultural_events", "staple_prices", "food_rapid_tests")


async def loop_domains(settings: Settings, engine: sa.Engine) -> None:
    """New versions of the domain datasets for the current time every live_domains_s, through
    the upload path (files in var/domains_data/live); the NOTIFY of each version tells the
    server's listeners. Starts with everything that depends on the hour and the day, so a demo
    restarted tomorrow shows today's weather and duty."""
    from backend.simulation.domain_data import generate_domains, missing_domains
    from backend.simulation.domain_places import TZ, hour_floor

    folder = settings.var_dir / "domains_data" / "live"
    hour = day = None
    while True:
        try:
            now = datetime.now(TZ)
            only = list(EVERY_TICK)
            if hour_floor(now) != hour:
                only += HOURLY
            if now.date() != day:
                only += DAILY
            # only datasets the catalog has (a new version of an unknown dataset is refused)
            known = set(await asyncio.to_thread(missing_domains, engine, recorded=True))
            only = [d for d in only if d in known]
            if only:
                report = await asyncio.to_thread(generate_domains, engine, folder, only=only,
                                                 now=now)
                log.info("%s", report.line())
            hour, day = hour_floor(now), now.date()
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed version must not take the server down; next tick
            log.exception("domain datasets' live versions failed; trying again next tick")
        await asyncio.sleep(settings.live_domains_s or 300.0)
