"""The `cityops` command: serve, demo, db, users, ingest, layers, gateway, scenario, open311,
terminals, cameras, datasets, quality, people, snapshot."""

from __future__ import annotations

import argparse
import gc
import json
import secrets
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from backend.audit.actor import acting_as, cli_actor
from backend.catalog.strict import CatalogError
from backend.errors import CityOpsError
from backend.settings import Settings, get_settings
from backend.simulation.cli import cmd_scenario

if TYPE_CHECKING:
    from backend.realtime.messages import Revocation

Handler = Callable[[argparse.Namespace, Settings], int]


def _prepare_database(settings: Settings) -> None:
    """Create/start the database and bring the schema to the newest migration."""
    from backend.db.engine import ensure_database
    from backend.db.migrate import upgrade

    upgrade(ensure_database(settings))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from backend.main import create_app
    from backend.observability.logs import configure_logging

    configure_logging(settings, background=True)
    _prepare_database(settings)
    host, port = args.host or settings.host, args.port or settings.port
    from backend.realtime.hub import SERVER_GC_THRESHOLD

    gc.set_threshold(*SERVER_GC_THRESHOLD)  # why: see backend.realtime.hub
    scheme = "https" if settings.tls_certfile else "http"
    print(f"cityops: serving on {scheme}://{host}:{port}", flush=True)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        # Logging is ours (configure_logging: one structured line per event, uvicorn's loggers
        # included); the access line per request comes from cityops.access, not uvicorn.
        log_config=None,
        log_level=None,
        access_log=False,
        workers=1,
        timeout_graceful_shutdown=3,
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
        # Deflating every frame for every console costs the hub about half its throughput
        # (bench_hub --deflate); on the intranet the bandwidth is not the limit.
        ws_per_message_deflate=False,
    )
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from backend.db.engine import local_cluster

    cluster = local_cluster(settings)
    if args.action == "upgrade":
        _prepare_database(settings)
        print("database is at the newest migration")
    elif args.action == "start":
        if settings.database_url:
            print("DATABASE_URL is set: the managed database is not used")
            return 1
        cluster.ensure_running()
        print(json.dumps(cluster.status(), indent=2))
    elif args.action == "stop":
        print("stopped" if cluster.stop() else "not running")
    elif args.action == "status":
        status = cluster.status()
        status["database_url_set"] = bool(settings.database_url)
        print(json.dumps(status, indent=2))
        return 0 if status["running"] or settings.database_url else 3
    return 0


def cmd_layers(args: argparse.Namespace, settings: Settings) -> int:
    from backend.catalog.layers import load_catalog, model_columns

    directory = Path(args.dir) if args.dir else settings.layers_dir
    try:
        catalog = load_catalog(directory, known_columns=model_columns())
    except CatalogError as exc:
        print(f"{len(exc.problems)} problem(s) in {directory}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{len(catalog.layers)} layers OK: {', '.join(catalog.ids)}")
    return 0


def cmd_gateway(args: argparse.Namespace, settings: Settings) -> int:
    """A stand-alone JT/T 808 gateway. Its live events reach the server's consoles only over
    a shared backplane (CITYOPS_HUB_BACKPLANE_URL=redis://...); `cityops serve` and
    `cityops demo` run the gateway inside the server instead."""
    import asyncio

    from backend.catalog.layers import load_catalog, model_columns
    from backend.db.engine import create_engine, resolve_urls
    from backend.observability.logs import configure_logging
    from backend.positions import build_position_pipeline, start_gateway
    from backend.realtime.hub import Hub
    from backend.vehicles.fleet import FleetDirectory, geofence_sources

    configure_logging(settings, background=True)

    _prepare_database(settings)
    settings = settings.model_copy(update={"jt808_enabled": True, "jt808_port": args.port})
    if settings.hub_backplane_url.startswith("memory://"):
        print("cityops: no shared backplane: fixes are stored, but live events stay in this "
              "process (set CITYOPS_HUB_BACKPLANE_URL=redis://... to reach the server)",
              file=sys.stderr)

    async def run() -> None:
        engine = create_engine(resolve_urls(settings).app, pool_size=4)
        hub = Hub.from_settings(settings)
        await hub.start()
        # The same rule context as in the server: the fleet register's lines and geofences.
        catalog = load_catalog(settings.layers_dir, known_columns=model_columns())
        fleet = FleetDirectory(engine, geofences=geofence_sources(settings, catalog))
        pipeline = build_position_pipeline(settings, engine, hub, fleet)
        gateway = await start_gateway(settings, pipeline, engine)
        assert gateway is not None
        print(f"cityops: JT/T 808 gateway on {settings.jt808_host}:{gateway.port}", flush=True)
        try:
            await gateway.serve_forever()  # stops the gateway when it ends
        finally:
            pipeline.close()
            await hub.close()
            engine.dispose()

    asyncio.run(run())
    return 0


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from backend.auth import users
    from backend.db.engine import create_engine, resolve_urls

    if args.action != "list" and not args.name:
        raise SystemExit(f"cityops: `users {args.action}` needs a user name")
    _prepare_database(settings)
    engine = create_engine(resolve_urls(settings).app, pool_size=1)

    def password() -> str:
        if not sys.stdin.isatty():
            return sys.stdin.readline().rstrip("\n")
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("cityops: the passwords differ")
        return first

    revocation = None
    try:
        with engine.begin() as conn:
            if args.action == "list":
                for u in users.list_users(conn):
                    state = "" if u["active"] else " (inactive)"
                    print(f"{u['username']:<16} {','.join(u['roles']):<28} "
                          f"{u['display_name']}{state}")
            elif args.action == "add":
                if not args.role:
                    raise SystemExit("cityops: give at least one --role")
                users.create_user(conn, args.name, password(), args.role,
                                  display_name=args.display_name, actor=cli_actor())
                print(f"user {args.name} created")
            elif args.action == "passwd":
                revocation = users.update_user(conn, args.name, password=password(),
                                               actor=cli_actor())
                print(f"password of {args.name} changed; their sessions are ended")
            elif args.action == "disable":
                revocation = users.update_user(conn, args.name, active=False, actor=cli_actor())
                print(f"user {args.name} disabled; their sessions are ended")
    finally:
        engine.dispose()
    if revocation is not None:
        print(announce_revocation(settings, revocation))
    return 0


def announce_revocation(settings: Settings, revocation: Revocation) -> str:
    """Tell running servers that sessions ended (after commit): on a redis:// backplane at
    once; on memory:// their periodic session check closes the sockets."""
    from urllib.parse import urlsplit

    if urlsplit(settings.hub_backplane_url).scheme in ("redis", "rediss"):
        from backend.realtime.backplane_redis import publish_revocation

        told = publish_revocation(settings.hub_backplane_url, revocation)
        return f"their live connections were closed ({told} server process(es) told)"
    return (f"their live connections on a running server close within "
            f"{settings.hub_session_check_s:g} s")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from backend.db.engine import create_engine, resolve_urls
    from backend.demo import (
        prepare_demo,
        prepare_demo_rasters,
        prepare_demo_streams,
        print_demo_users,
        seed_demo_users,
    )
    from backend.observability.logs import configure_logging

    configure_logging(settings, background=True)

    # The demo runs the JT/T 808 gateway inside the server and a live scenario against it,
    # so that buses move on the map.
    # The traffic scenario posts to this server's own HTTP ingest: it needs the port served.
    settings = settings.model_copy(
        update={"jt808_enabled": True, "live_scenario": args.scenario or None,
                "live_traffic_scenario": args.traffic or None,
                # GB/T 28181 devices of the camera scenario register with a realm secret
                # (CITYOPS_SIP_PASSWORD, else a random one for this process).
                "sip_enabled": bool(args.cameras) or settings.sip_enabled,
                "sip_password": settings.sip_password or secrets.token_urlsafe(18),
                "live_camera_scenario": args.cameras or None,
                # the domain datasets move every 5 minutes (backend.simulation.live)
                "live_domains_s": 300.0 if settings.live_domains_s is None
                else settings.live_domains_s,
                "host": args.host or settings.host, "port": args.port or settings.port}
    )
    started = time.perf_counter()
    _prepare_database(settings)
    prepare_demo(settings, scale=args.scale, force=args.force, regenerate=args.regenerate)
    prepare_demo_rasters(settings)
    prepare_demo_streams(settings)  # the cameras' test video near the seat (示意)
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        print_demo_users(seed_demo_users(engine))
        from backend.grid.assign import assign_demo_grid_workers
        from backend.simulation.grid_day import play_for_demo

        with engine.begin() as conn:
            assign_demo_grid_workers(conn)  # grid01 on the cells of 泗城镇

        play_for_demo(settings, engine)  # yesterday's grid cases, once
    finally:
        engine.dispose()
    from backend.catalog.layers import load_catalog, model_columns
    from backend.demo_data import prepare_demo_data

    # the data catalog: records, generated content, quality, demo requests (issue 12)
    engine = create_engine(resolve_urls(settings).app, pool_size=2)
    try:
        prepare_demo_data(settings, engine,
                          load_catalog(settings.layers_dir, known_columns=model_columns()))
    finally:
        engine.dispose()
    print(f"demo ready in {time.perf_counter() - started:.1f} s", flush=True)
    if args.no_serve:
        return 0
    return cmd_serve(args, settings)


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """`cityops audit verify | anchor | person ID` (backend.audit.commands, backend.people)."""
    from backend.audit.commands import run
    from backend.db.engine import create_engine, resolve_urls

    _prepare_database(settings)
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        if args.action == "person":  # who looked at a person (issue 13): backend.people.access
            from backend.people.access import print_person_log
            with engine.connect() as conn:
                return print_person_log(conn, args.citizen_id or "", args.days)
        return run(args.action, settings, engine)
    finally:
        engine.dispose()


def cmd_open311(args: argparse.Namespace, settings: Settings) -> int:
    from backend.db.engine import create_engine, resolve_urls
    from backend.open311.keys import run_cli

    _prepare_database(settings)
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        return run_cli(args.action, args.name, engine)
    finally:
        engine.dispose()


def cmd_terminals(args: argparse.Namespace, settings: Settings) -> int:
    from backend.db.engine import create_engine, resolve_urls
    from backend.vehicles.terminals_cli import run_cli

    _prepare_database(settings)
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        return run_cli(args.action, args.phone, engine, actor=cli_actor(), args=args)
    finally:
        engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityops", description="City operations center")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=cmd_serve)

    demo = sub.add_parser("demo", help="load the Sixian demo county and serve it")
    demo.add_argument("--scale", type=float, default=1.0, help="county size, 1.0 = full")
    demo.add_argument(
        "--force",
        action="store_true",
        help="load even into a non-empty external database (DATABASE_URL)",
    )
    demo.add_argument("--regenerate", action="store_true", help="rebuild the demo data")
    demo.add_argument("--no-serve", action="store_true", help="load only, do not serve")
    demo.add_argument("--scenario", default="bus-morning-peak",
                      help="live scenario run in a loop (empty: none)")
    demo.add_argument("--traffic", default="traffic-peak",
                      help="live traffic scenario run in a loop beside it (empty: none)")
    demo.add_argument("--cameras", default="cameras-day",
                      help="live GB/T 28181 device scenario run in a loop beside them, against "
                           "the server's own SIP endpoint on CITYOPS_SIP_PORT (empty: none)")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.set_defaults(handler=cmd_demo)

    from backend.ingest.cli import add_parser as ingest_command

    ingest_command(sub)

    gateway = sub.add_parser("gateway", help="run a feed gateway on its own")
    gateway.add_argument("protocol", choices=["jt808"])
    gateway.add_argument("--port", type=int, default=7808)
    gateway.set_defaults(handler=cmd_gateway)

    scenario = sub.add_parser("scenario", help="run a scenario through the real ingest paths")
    scenario.add_argument("action", choices=["run"])
    scenario.add_argument("name", help="a folder of scenarios/, e.g. bus-morning-peak")
    scenario.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    scenario.add_argument("--port", type=int, help="the gateway's port (default 7808); for "
                          "traffic-peak the server's HTTP port (default 8000)")
    scenario.add_argument("--day", help="grid-day: the working day to play, YYYY-MM-DD "
                                        "(default: the previous working day)")
    scenario.set_defaults(handler=cmd_scenario)

    users = sub.add_parser("users", help="user accounts: list, add, passwd, disable")
    users.add_argument("action", choices=["list", "add", "passwd", "disable"])
    users.add_argument("name", nargs="?", help="the user name (add, passwd, disable)")
    users.add_argument("--role", action="append",
                       help="a role for `add` (repeatable): admin, commander, supervisor, "
                            "dispatcher, grid_worker, department_handler, traffic_police, "
                            "data_steward, viewer")
    users.add_argument("--display-name", help="the name shown in the console")
    users.set_defaults(handler=cmd_users)

    db = sub.add_parser("db", help="the database: upgrade, or manage the local cluster")
    db.add_argument("action", choices=["upgrade", "start", "stop", "status"])
    db.set_defaults(handler=cmd_db)

    layers = sub.add_parser("layers", help="the layer catalog")
    layers.add_argument("action", choices=["check"])
    layers.add_argument("--dir", help="folder of layer YAML files (default: layers/)")
    layers.set_defaults(handler=cmd_layers)

    audit = sub.add_parser("audit", help="the tamper-evident audit log: verify its hash chain "
                                         "and its signed anchors, or anchor its head now")
    audit.add_argument("action", choices=["verify", "anchor", "person"])
    audit.add_argument("citizen_id", nargs="?", help="person: the citizen ID whose looks to list")
    audit.add_argument("--days", type=int, default=90, help="person: how far back (days)")
    audit.set_defaults(handler=cmd_audit)

    from backend.vehicles.terminals_cli import add_arguments as terminal_arguments

    terminals = sub.add_parser("terminals", help="JT/T 808 terminals: list, add, revoke, allow")
    terminal_arguments(terminals)
    terminals.set_defaults(handler=cmd_terminals)

    from backend.cameras.cli import add_parser as camera_commands

    camera_commands(sub)

    from backend.datasets.cli import add_parser as dataset_commands
    from backend.exchange.cli import add_actions as arrival_commands

    arrival_commands(dataset_commands(sub))

    from backend.quality.cli import add_parser as quality_commands

    quality_commands(sub)

    from backend.people.cli import add_parser as people_commands

    people_commands(sub)

    from backend.domains.cli import add_parser as domain_commands

    domain_commands(sub)

    from backend.snapshots.cli import add_parser as snapshot_command

    snapshot_command(sub)

    open311 = sub.add_parser("open311", help="Open311 api keys: add-key, list-keys, disable-key")
    open311.add_argument("action", choices=["add-key", "list-keys", "disable-key"])
    open311.add_argument("name", nargs="?", help="the api client's name (add-key, disable-key)")
    open311.set_defaults(handler=cmd_open311)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # What a one-shot command writes is audited as the OS account that ran it; a serving
    # process binds nothing (each request binds its own caller).
    serving = args.handler in (cmd_serve, cmd_demo, cmd_gateway)
    try:
        with nullcontext() if serving else acting_as(cli_actor()):
            return args.handler(args, get_settings())
    except CityOpsError as exc:
        print(f"cityops: {exc.message}", file=sys.stderr)
        return 2
    except CatalogError as exc:  # a layer or scenario file: every problem, one per line
        print("cityops: " + "\n  ".join(["invalid configuration:", *exc.problems]),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
