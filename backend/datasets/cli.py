"""`cityops datasets ...`: the data catalog's commands. `sync` reads scenarios/sixian/catalog
(checked against layers/) and upserts departments, dataset records and fields, as the server
does at start; a file problem is reported, one line each, and nothing is written."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `datasets` command group; returns its subparsers so that other parts add theirs."""
    group = sub.add_parser("datasets", help="the data catalog: sync (and the arrival commands)")
    actions = group.add_subparsers(dest="datasets_action", required=True)
    sync = actions.add_parser("sync", help="load the catalog files into the database "
                                           "(idempotent; the server also does it at start)")
    sync.set_defaults(handler=cmd_sync)
    return actions


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from backend.catalog.layers import load_catalog, model_columns
    from backend.datasets.sync import sync_from
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade

    layers = load_catalog(settings.layers_dir, known_columns=model_columns())
    upgrade(ensure_database(settings))
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        result = sync_from(settings, engine, layers)
    finally:
        engine.dispose()
    print(f"{result.datasets} datasets in the catalog; changed: {result.departments_changed} "
          f"departments, {result.datasets_changed} datasets, {result.fields_changed} fields"
          + (f"; {result.orphans} records no longer in the catalog kept" if result.orphans
             else ""))
    return 0
