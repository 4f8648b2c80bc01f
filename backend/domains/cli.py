"""`cityops domains check`: the domain view files checked like `cityops layers check`; with a
database (the settings' one, reachable), every query is also prepared against it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from backend.settings import Settings


def cmd_domains(args: argparse.Namespace, settings: Settings) -> int:
    import sqlalchemy as sa

    from backend.catalog.layers import load_catalog, model_columns
    from backend.catalog.strict import CatalogError
    from backend.domains.service import check_against, load_views

    if args.dir:
        settings = settings.model_copy(update={"domains_dir": Path(args.dir)})
    try:
        layers = load_catalog(settings.layers_dir, known_columns=model_columns())
        views = load_views(settings, layers)
    except CatalogError as exc:
        print("\n".join(exc.problems))
        return 1
    where = "static checks only (no database)"
    if not args.no_database:
        from backend.db.engine import create_engine, resolve_urls

        try:
            engine = create_engine(resolve_urls(settings).app, pool_size=1)
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - no database: the static checks stand alone
            print(f"no database ({type(exc).__name__}): static checks only")
        else:
            try:
                check_against(engine, views, timeout_ms=10_000)
            except CatalogError as exc:
                print("\n".join(exc.problems))
                return 1
            finally:
                engine.dispose()
            where = "every query prepared against the database"
    print(f"{len(views.views)} domain views OK ({where}): {', '.join(views.ids)}")
    return 0


def add_parser(sub: Any) -> None:
    domains = sub.add_parser("domains", help="the domain views (scenarios/sixian/domains)")
    domains.add_argument("action", choices=["check"])
    domains.add_argument("--dir", help="folder of domain view files (default: settings)")
    domains.add_argument("--no-database", action="store_true",
                         help="static checks only, without preparing the queries")
    domains.set_defaults(handler=cmd_domains)
