"""Helpers the benchmarks share: a free port, latency summaries, CPU and machine-busy readings
from /proc, the scratch database (migrations + a small demo county) and the real app started
under uvicorn in a subprocess (ready once /api/health answers)."""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg2

from backend.db.engine import create_engine, drop_database, ensure_database
from backend.db.migrate import upgrade
from backend.settings import get_settings

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- ports and the app under uvicorn -------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, env: dict[str, str]) -> subprocess.Popen:
    """`backend.main:create_app` under uvicorn (one process) on `port`, once /api/health
    answers 200 (killed, and RuntimeError, if it does not within ~30 s)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "backend.main:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"], env=env)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_process(proc, 0)
    raise RuntimeError("server did not start")


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def app_server(database_name: str, **env: str) -> Iterator[tuple[int, int]]:
    """The real app on a scratch database (DATABASE_URL unset, `env` added as environment
    variables); yields (its pid, its HTTP port)."""
    port = free_port()
    full = {**os.environ, "CITYOPS_DATABASE_NAME": database_name, **env}
    full.pop("DATABASE_URL", None)
    proc = start_app(port, full)
    try:
        yield proc.pid, port
    finally:
        stop_process(proc)


# ---- the scratch database ------------------------------------------------------------------

class ScratchDatabase:
    """A database of its own in the managed cluster, made afresh: the migrations and the demo
    county at `scale` (the loaded row counts by table in `counts`)."""

    def __init__(self, name: str, scale: float, bench: str, pool_size: int) -> None:
        from backend.county import build_county, load_county, load_recipe

        self.settings = get_settings(database_name=name)
        if self.settings.database_url:
            raise SystemExit(f"{bench} makes a scratch database in the managed cluster; "
                             "unset DATABASE_URL")
        drop_database(self.settings)
        self.urls = ensure_database(self.settings)
        upgrade(self.urls)
        self.engine = create_engine(self.urls.app, pool_size=pool_size)
        self.counts = load_county(self.engine, build_county(load_recipe(), scale=scale))
        self.dsn = self.urls.app.replace("postgresql+psycopg2://", "postgresql://")

    def drop(self) -> None:
        drop_database(self.settings)


def analyze(admin_url: str, table: str | None = None) -> None:
    """ANALYZE as the owner, on an autocommit connection (statistics are transactional)."""
    conn = psycopg2.connect(admin_url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"ANALYZE {table}" if table else "ANALYZE")
    finally:
        conn.close()


# ---- CPU and the machine -------------------------------------------------------------------

def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    return sum(vals) - vals[3] - vals[4], sum(vals)


# ---- summaries -----------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` (nearest rank from below; nan when empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def median_of(runs: list[dict]) -> dict:
    """Figure by figure, the median over runs."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def concurrent_gets(port: int, tokens: list[str], paths: list[list[str]]
                    ) -> tuple[list[float], int]:
    """Every user (one thread, one token) sends its paths back to back, all starting at once;
    (latencies in ms, errors)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(len(tokens))

    def user(i: int) -> None:
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          headers={"Authorization": f"Bearer {tokens[i]}"}) as http:
            start.wait()
            for path in paths[i]:
                t0 = time.perf_counter()
                r = http.get(path)
                mine.append((time.perf_counter() - t0) * 1000)
                bad += r.status_code != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]
