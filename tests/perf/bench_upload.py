"""Dataset upload benchmark (`make bench`): a `--rows`-row CSV (default 100,000: id, name,
number, lon, lat) as a new version of a point dataset through `backend.exchange.service.
upload_file` (what POST /api/datasets/{id}/upload calls after saving the file: decode, map the
columns, coerce each value, points, the version store's COPY, diff and audit), against a raw
COPY of the same CSV into a plain table (text, text, text, float8, float8) in the same run.

Each of `--repeat` runs starts from an empty dataset (a first version: every row is new) and a
truncated plain table. Prints rows/s (medians) and the ratio. Figures, not assertions."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from backend.exchange.service import Limits, upload_file
from tests.exchange.helpers import drop_dataset, make_dataset
from tests.perf.common import ScratchDatabase

DATASET = "bench_upload_waste"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("设施编号,设施名称,处理能力（吨/日）,经度,纬度\n")
        for i in range(rows):
            out.write(f"W{i:07d},第{i}号设施,{i % 5000}.5,{117.7 + (i % 1000) / 2500:.6f},"
                      f"{33.3 + (i // 1000) / 400:.6f}\n")


def raw_copy(engine: sa.Engine, path: Path) -> float:
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE bench_upload_plain"))
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        started = time.perf_counter()
        with path.open(encoding="utf-8") as fh:
            cur.copy_expert("COPY bench_upload_plain FROM STDIN WITH (FORMAT csv, HEADER true)",
                            fh)
        raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def upload(engine: sa.Engine, path: Path) -> float:
    make_dataset(engine, "waste_facilities", dataset_id=DATASET, department="CGJ")
    started = time.perf_counter()
    outcome = upload_file(engine, dataset_id=DATASET, path=path, filename=path.name,
                          actor="bench", check=False, limits=Limits())
    seconds = time.perf_counter() - started
    assert outcome.status == "accepted" and outcome.rows_rejected == 0, outcome
    return seconds


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="cityops_bench_upload")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    db = ScratchDatabase(args.database, 0.002, "bench_upload", pool_size=2)
    try:
        admin = sa.create_engine(db.urls.admin, poolclass=sa.pool.NullPool)
        app_role = sa.engine.make_url(db.urls.app).username
        with admin.begin() as conn:  # the app's role may not create tables
            conn.execute(sa.text("CREATE TABLE bench_upload_plain (id text, name text, "
                                 "capacity text, lon float8, lat float8)"))
            conn.execute(sa.text(f'GRANT ALL ON bench_upload_plain TO "{app_role}"'))
        admin.dispose()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "upload.csv"
            write_csv(path, args.rows)
            copies, uploads = [], []
            for _ in range(args.repeat):  # interleaved: both see the same machine load
                copies.append(raw_copy(db.engine, path))
                uploads.append(upload(db.engine, path))
        copy_rate = args.rows / statistics.median(copies)
        upload_rate = args.rows / statistics.median(uploads)
        print(f"bench_upload: {args.rows} rows, median of {args.repeat}")
        print(f"  raw COPY into a plain table: {copy_rate:,.0f} rows/s")
        print(f"  upload_file (a new version): {upload_rate:,.0f} rows/s "
              f"({copy_rate / upload_rate:.1f} x the COPY time)")
        drop_dataset(db.engine, DATASET)
    finally:
        db.engine.dispose()
        if not args.keep:
            db.drop()


if __name__ == "__main__":
    main()
