"""`cityops people stats`: recount, suppress and store the population counts (what the server
does at start when the table is empty, the load after a load and a decision after an accepted
change). An action of `cityops people` (backend/people/cli.py)."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.settings import Settings


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade
    from backend.people.aggregates import population_stats, refresh

    upgrade(ensure_database(settings))
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            rows = refresh(conn, args.k or settings.population_k)
            hidden = conn.execute(population_stats.select().where(
                population_stats.c.suppressed != [])).all()
        print(f"population stats: {rows} units counted in {time.perf_counter() - t0:.2f} s; "
              f"{len(hidden)} with suppressed figures (k = {args.k or settings.population_k})")
        return 0
    finally:
        engine.dispose()
