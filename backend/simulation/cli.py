"""`cityops scenario run NAME`: a bus scenario against a running server's JT/T 808 gateway,
traffic-peak against its HTTP ingest, cameras-day against its GB/T 28181 SIP endpoint, or a
grid day played into the database."""

from __future__ import annotations

import argparse
import sys

from backend.settings import Settings


def cmd_scenario(args: argparse.Namespace, settings: Settings) -> int:
    """Run a scenario against a running server's JT/T 808 gateway (settings.jt808_host/port);
    a grid-day scenario plays a day of grid cases into the database instead."""
    import asyncio

    from backend.catalog.camera_scenarios import CAMERAS_DAY
    from backend.catalog.grid_scenarios import GRID_DAY, scenario_kind
    from backend.catalog.scenarios import load_scenario
    from backend.catalog.traffic_scenarios import TRAFFIC_PEAK
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade
    from backend.simulation.runner import run_scenario

    kind = scenario_kind(args.name, settings.scenarios_dir)
    if kind == GRID_DAY:
        from backend.simulation.grid_day import run_from_cli

        upgrade(ensure_database(settings))
        return run_from_cli(settings, args.name, args.day)
    if kind == TRAFFIC_PEAK:
        return _run_traffic(args, settings)
    if kind == CAMERAS_DAY:
        return _run_cameras(args, settings)
    scenario = load_scenario(args.name, settings.scenarios_dir)
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        report = asyncio.run(run_scenario(
            scenario, engine=engine, host=settings.jt808_host,
            port=args.port or settings.jt808_port, speed=args.speed,
        ))
    finally:
        engine.dispose()
    print(f"{scenario.name}: {report.terminals} terminals, {report.fixes_acked} of "
          f"{report.fixes_sent} fixes acknowledged, {report.fixes_failed} failed")
    return 0 if report.fixes_failed == 0 else 1


def _run_traffic(args: argparse.Namespace, settings: Settings) -> int:
    """`cityops scenario run traffic-peak`: the fixes posted to a running server's HTTP ingest
    (settings.host, --port or settings.port) with the ingest token."""
    import asyncio

    from backend.catalog.traffic_scenarios import load_traffic
    from backend.db.engine import create_engine, resolve_urls
    from backend.simulation.live import server_url
    from backend.simulation.traffic_plan import PlanError
    from backend.simulation.traffic_run import TrafficRunError, run_traffic

    scenario = load_traffic(args.name, settings.scenarios_dir)
    if args.port:
        settings = settings.model_copy(update={"port": args.port})
    token = settings.effective_ingest_token()
    if not token:
        raise SystemExit("cityops: set CITYOPS_INGEST_TOKEN to the server's ingest token")
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        report = asyncio.run(run_traffic(scenario, engine=engine, base_url=server_url(settings),
                                         token=token, speed=args.speed))
    except (TrafficRunError, PlanError) as exc:
        print(f"cityops: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print("\n".join(report.lines()), flush=True)
    return 0 if not report.failures else 1


def _run_cameras(args: argparse.Namespace, settings: Settings) -> int:
    """`cityops scenario run cameras-day`: simulated GB/T 28181 devices against a running
    server's SIP endpoint (settings.sip_host, --port or settings.sip_port), authenticating with
    the realm secret CITYOPS_SIP_PASSWORD."""
    import asyncio

    from backend.catalog.camera_scenarios import load_cameras_day
    from backend.db.engine import create_engine, resolve_urls
    from backend.simulation.camera_day import run_cameras_day

    scenario = load_cameras_day(args.name, settings.scenarios_dir)
    if not settings.sip_password:
        raise SystemExit("cityops: set CITYOPS_SIP_PASSWORD to the server's SIP realm secret")
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        report = asyncio.run(run_cameras_day(
            scenario, engine=engine, host=settings.sip_host, port=args.port or settings.sip_port,
            server_id=settings.sip_server_id, realm=settings.sip_realm,
            password=settings.sip_password, speed=args.speed if args.speed != 1.0 else None))
    finally:
        engine.dispose()
    print("\n".join(report.lines()), flush=True)
    return 0 if not report.failures else 1
