"""`cityops cameras ...`: the cameras' command group. `views [--all]` recomputes the stale view
polygons (or all of them) and lists the views that have none (inside a building, no heading,
everything hidden)."""

from __future__ import annotations

import argparse
import time

from backend.settings import Settings


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cameras = sub.add_parser("cameras", help="video cameras: views (recompute the view cones)")
    actions = cameras.add_subparsers(dest="action", required=True)
    views = actions.add_parser("views", help="recompute the stale camera views (clipped cones)")
    views.add_argument("--all", action="store_true", help="recompute every camera's views")
    views.set_defaults(handler=cmd_views)


def cmd_views(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cameras import views
    from backend.catalog.camera_views import load_camera_views
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade

    upgrade(ensure_database(settings))
    params = load_camera_views()
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        t0 = time.perf_counter()
        done, counts = views.refresh(engine, params, everything=args.all)
        seconds = time.perf_counter() - t0
        with engine.connect() as conn:
            flagged = views.flagged(conn)
    finally:
        engine.dispose()
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    print(f"camera views: {done} cameras recomputed in {seconds:.1f} s; views: {summary}")
    for row in flagged:
        print(f"  {row.status:<16} {row.code} view {row.view_no} {row.name or ''}")
    return 0
