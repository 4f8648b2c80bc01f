"""`cityops people generate [--scale]` (the demo population, 示意/synthetic, written as source
versions and loaded), `cityops people load DATASET` (a source's current version into the base),
`cityops people quarantine [--dataset]` (refused rows by check), `cityops people stats [--k]`
(recount and suppress the published counts: backend.people.stats_cli). Writes are audited with the
CLI actor (backend/cli.py binds it)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

    from backend.settings import Settings


def _engine(settings: Settings) -> sa.Engine:
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade

    upgrade(ensure_database(settings))
    return create_engine(resolve_urls(settings).app, pool_size=1)


def cmd_people(args: argparse.Namespace, settings: Settings) -> int:
    from backend.audit.actor import bound_actor
    from backend.people.load import load_dataset, quarantine_counts

    if args.action == "stats":
        from backend.people.stats_cli import cmd_stats

        return cmd_stats(args, settings)
    engine = _engine(settings)
    actor = bound_actor() or "cli"
    try:
        if args.action == "generate":
            from backend.simulation.population import generate_population

            _ensure_sources(settings, engine)
            run = generate_population(engine, scale=args.scale, actor=actor,
                                      stats_k=settings.population_k)
            for report in run.reports:
                print(f"  {report.line()}")
            print(run.line())
        elif args.action == "load":
            if not args.dataset:
                print("cityops: people load needs a DATASET")
                return 2
            with engine.begin() as conn:
                print(load_dataset(conn, args.dataset, actor=actor,
                                   stats_k=settings.population_k).line())
        else:
            with engine.connect() as conn:
                counts = quarantine_counts(conn, args.dataset_filter or args.dataset)
            print(f"quarantine: {sum(counts.values()):,} unresolved rows")
            for check, n in counts.most_common():
                print(f"  {check:12} {n:,}")
        return 0
    finally:
        engine.dispose()


def _ensure_sources(settings: Settings, engine: sa.Engine) -> None:
    """The source datasets need their catalog records: sync the catalog (as the server does
    when it starts) when one is missing, e.g. a database made before temporary_population."""
    import sqlalchemy as sa

    from backend.catalog.layers import load_catalog
    from backend.datasets.sync import sync_from
    from backend.simulation.dataset_content import POPULATION

    with engine.connect() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM datasets WHERE id = ANY(:d)"),
                            {"d": list(POPULATION)}).scalar_one()
    if have < len(POPULATION):
        result = sync_from(settings, engine, load_catalog(settings.layers_dir))
        print(f"catalog synced: {result.datasets} datasets")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """`cityops people ACTION`; backend/cli.py calls this once."""
    people = sub.add_parser("people", help="the population base: generate the demo population, "
                                           "load a source dataset, list the quarantine")
    people.add_argument("action", choices=["generate", "load", "quarantine", "stats"])
    people.add_argument("dataset", nargs="?", help="load: the source dataset id")
    people.add_argument("--dataset", dest="dataset_filter", help="quarantine: one dataset")
    people.add_argument("--scale", type=float, default=1.0, help="generate: 1.0 = 763,310")
    people.add_argument("--k", type=int, default=None,
                        help="stats: the suppression threshold (default: the setting)")
    people.set_defaults(handler=cmd_people)
    return people
