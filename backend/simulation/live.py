"""Keep the demo alive: run a scenario against this server's own JT/T 808 gateway, again and
again, in the background of the server process (started by `cityops demo`)."""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from backend.catalog.scenarios import load_scenario
from backend.settings import Settings
from backend.simulation.runner import run_scenario

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
