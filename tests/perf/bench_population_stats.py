"""Population counts benchmark (`make bench`): the county-wide grid aggregate with suppression
(backend.people.aggregates.refresh: one counting pass, the complementary suppression and its
attack, the table rewritten), against the plainest count of the same rows (a GROUP BY grid_code
over the current persons) measured in the same run on the same connection.

On the demo database (the settings' one, with the demo population loaded: `make demo`). Each
refresh runs in a transaction that is rolled back, so the stored counts stay as they are.
Prints medians and the ratio; the issue's target is <= 500 ms for the refresh. Figures, not
assertions."""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import sqlalchemy as sa

from backend.settings import get_settings

PLAIN = sa.text("SELECT grid_code, count(*) FROM persons "
                "WHERE status IN ('resident', 'registered_elsewhere') GROUP BY grid_code")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from backend.db.engine import create_engine, resolve_urls
    from backend.people.aggregates import count_cells, refresh
    from backend.people.suppression import suppress  # noqa: F401  (scipy loaded before timing)

    settings = get_settings()
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        with engine.connect() as conn:
            persons = conn.execute(sa.text("SELECT count(*) FROM persons")).scalar_one()
            conn.rollback()
            if not persons:
                print("population stats: no persons in the database (make demo loads them)")
                return
            times: dict[str, list[float]] = {"plain": [], "count": [], "refresh": []}
            hidden = units = 0
            for i in range(args.runs + 1):  # the first round warms the caches
                tx = conn.begin()
                t0 = time.perf_counter()
                conn.execute(PLAIN).all()
                t1 = time.perf_counter()
                count_cells(conn, date.today())
                t2 = time.perf_counter()
                units = refresh(conn, settings.population_k)
                t3 = time.perf_counter()
                hidden = conn.execute(sa.text(
                    "SELECT sum(cardinality(suppressed)) FROM population_stats")).scalar() or 0
                tx.rollback()
                if i:
                    times["plain"].append((t1 - t0) * 1000)
                    times["count"].append((t2 - t1) * 1000)
                    times["refresh"].append((t3 - t2) * 1000)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"population stats over {persons:,} persons, {units} units, {hidden} figures "
              f"withheld (k = {settings.population_k}); median of {args.runs}:")
        print(f"  plain GROUP BY count (baseline)     {med['plain']:7.0f} ms")
        print(f"  the nine figures per cell           {med['count']:7.0f} ms "
              f"({med['count'] / med['plain']:.1f}x)")
        print(f"  refresh: count + suppress + store   {med['refresh']:7.0f} ms "
              f"({med['refresh'] / med['plain']:.1f}x)   target <= 500 ms")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
