"""`cityops quality sync [DATASET]` (derive the rules from the catalog and the rules file) and
`cityops quality run [DATASET]` (run them: one dataset, or every dataset with data; `--new`
only the datasets whose current version has no run yet)."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

    from backend.settings import Settings


def _engine(settings: Settings) -> sa.Engine:
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade

    upgrade(ensure_database(settings))
    return create_engine(resolve_urls(settings).app, pool_size=1)


def cmd_quality(args: argparse.Namespace, settings: Settings) -> int:
    from backend.catalog.layers import load_catalog
    from backend.incidents.calendar import WorkCalendar
    from backend.quality.rules import sync_rules
    from backend.quality.runner import run_all, run_dataset, run_new_versions

    engine = _engine(settings)
    try:
        if args.action == "sync":
            report = sync_rules(engine, settings.catalog_dir, args.dataset)
            print(f"quality rules: {report.rules} rules of {report.datasets} datasets synced, "
                  f"{report.disabled} switched off")
            for problem in report.problems:
                print(f"  problem: {problem}")
            return 1 if report.problems else 0
        calendar = WorkCalendar.load(*settings.work_calendars)
        layers = load_catalog(settings.layers_dir)
        t0 = time.perf_counter()
        if args.dataset:
            runs = [run_dataset(engine, args.dataset, trigger="manual", calendar=calendar,
                                layers=layers, catalog_dir=settings.catalog_dir)]
        elif args.new:
            runs = run_new_versions(engine, calendar, layers=layers,
                                    catalog_dir=settings.catalog_dir)
        else:
            runs = run_all(engine, calendar, layers=layers, trigger="manual",
                           catalog_dir=settings.catalog_dir)
        print(f"quality runs: {len(runs)} in {time.perf_counter() - t0:.1f} s "
              f"(run ids {runs[0]}..{runs[-1]})" if runs else "quality runs: none due")
        return 0
    finally:
        engine.dispose()


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """`cityops quality ACTION [DATASET]`; backend/cli.py calls this once."""
    quality = sub.add_parser("quality", help="data quality rules: sync them from the catalog, "
                                             "run them")
    quality.add_argument("action", choices=["sync", "run"])
    quality.add_argument("dataset", nargs="?", help="one dataset id (default: every dataset)")
    quality.add_argument("--new", action="store_true",
                         help="run: only datasets whose current version has no run yet")
    quality.set_defaults(handler=cmd_quality)
    return quality
