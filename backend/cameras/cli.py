"""`cityops cameras ...`: the cameras' commands, each added in its own function: views
(recompute the stale view polygons, or all, and list the views that have none), export, report,
coverage. `import_register_file` is the register branch of `cityops ingest FILE --layer
cameras`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from backend.cameras.register_io import FORMATS

if TYPE_CHECKING:
    import sqlalchemy as sa

    from backend.settings import Settings

LAYER = "cameras"
REGISTER_SUFFIXES = (".csv", ".json")


def _engine(settings: Settings) -> sa.Engine:
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade

    upgrade(ensure_database(settings))
    return create_engine(resolve_urls(settings).app, pool_size=1)


def is_register(path: Path, layer: str) -> bool:
    """A .csv or .json file into the cameras layer is a register, unless it is GeoJSON."""
    if layer != LAYER or path.suffix.lower() not in REGISTER_SUFFIXES:
        return False
    if path.suffix.lower() == ".json" and path.is_file():
        with path.open("rb") as fh:
            head = fh.read(4096)
        return b'"FeatureCollection"' not in head and b'"Feature"' not in head
    return True


def import_register_file(args: argparse.Namespace, settings: Settings) -> int:
    """The register branch of `cityops ingest`: 0 all rows imported, 1 some refused."""
    from backend.audit.actor import cli_actor
    from backend.cameras.registry import import_register
    from backend.errors import InvalidInput

    flags = (("--crs", "crs"), ("--from-gcj02", "from_gcj02"), ("--key", "key"),
             ("--append", "append"), ("--map", "map"), ("--file-layer", "file_layer"),
             ("--x-field", "x_field"), ("--y-field", "y_field"))
    other = [flag for flag, name in flags if getattr(args, name, None)]
    if other:
        raise InvalidInput(f"{', '.join(other)}: not for a camera register (WGS-84 lon/lat "
                           "columns, keyed by code). For a GeoJSON/GeoPackage/Shapefile of "
                           "cameras use that file instead.")
    engine = _engine(settings)
    try:
        report = import_register(
            engine, Path(args.file), realm=settings.sip_realm, encoding=args.encoding or "utf-8",
            source=args.source, actor=cli_actor(), report_path=args.report)
    finally:
        engine.dispose()
    print(report.summary())
    for issue in report.rejected_rows[:10]:
        print(f"  row {issue.row} ({issue.key}): {issue.reason}", file=sys.stderr)
    return 1 if report.rejected_rows else 0


def cmd_views(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cameras import views
    from backend.catalog.camera_views import load_camera_views

    params = load_camera_views()
    engine = _engine(settings)
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


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cameras.registry import export_register

    engine = _engine(settings)
    try:
        n = export_register(engine, Path(args.file), fmt=args.format, source=args.source)
    finally:
        engine.dispose()
    print(f"{n} cameras written to {args.file}")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cameras.registry_report import registry_report

    engine = _engine(settings)
    try:
        report = registry_report(engine)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.text(limit=args.limit))
    return 0


def cmd_coverage(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cameras.coverage import recompute_coverage

    engine = _engine(settings)
    try:
        result = recompute_coverage(engine)
    finally:
        engine.dispose()
    print(result.summary())
    return 0


def _add_views(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("views", help="recompute the stale camera views (clipped cones)")
    p.add_argument("--all", action="store_true", help="recompute every camera's views")
    p.set_defaults(handler=cmd_views)


def _add_export(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("export", help="write the camera register (CSV or JSON, the form "
                                      "`cityops ingest FILE --layer cameras` reads)")
    p.add_argument("file")
    p.add_argument("--format", choices=FORMATS, help="default: the file's suffix")
    p.add_argument("--source", help="only this source's cameras")
    p.set_defaults(handler=cmd_export)


def _add_report(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("report", help="per camera what is missing or wrong (no heading, no "
                                      "range, a view that cannot be computed), counts by status")
    p.add_argument("--json", action="store_true", help="the whole report as JSON")
    p.add_argument("--limit", type=int, default=50, help="cameras listed (text form)")
    p.set_defaults(handler=cmd_report)


def _add_coverage(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("coverage", help="recompute the share of each grid cell's roads inside "
                                        "an online camera's view")
    p.set_defaults(handler=cmd_coverage)


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """`cityops cameras ACTION`; backend/cli.py calls this once."""
    cameras = sub.add_parser("cameras", help="video cameras: views, export, report, coverage")
    actions = cameras.add_subparsers(dest="action", required=True)
    _add_views(actions)
    _add_export(actions)
    _add_report(actions)
    _add_coverage(actions)
    return cameras
