"""The case benchmark's load driver: consoles (each its own sessions and keep-alive
connection) run in threads, all started together, taking cases through the whole flow or
checking health, paced or closed-loop; and the CPU meter of the app and its PostgreSQL
backends over a run."""

from __future__ import annotations

import http.client
import random
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import orjson
import psycopg2

from tests.perf.common import proc_cpu

FLOW = [("file", "sup"), ("dispatch", "disp"), ("accept", "hand"), ("start", "hand"),
        ("handle", "hand"), ("send_to_verify", "sup"), ("confirm", "sup")]
NEEDS_NOTE = {"handle"}
CATEGORY = "E0101"  # 暴露垃圾 -> the unit HWS
DEPARTMENT = "HWS"


def backends(dsn: str, database: str) -> list[int]:
    """The PostgreSQL backends connected to the scratch database (the app's pool)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s "
                        "AND pid <> pg_backend_pid()", (database,))
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


class CpuMeter:
    """CPU seconds of the app's process and of its PostgreSQL backends (not of the machine:
    other work on a shared machine is left out). Backends that close during a run take their
    share with them, so this slightly undercounts under churn."""

    def __init__(self, pid: int, dsn: str, database: str) -> None:
        self.pid, self.dsn, self.database = pid, dsn, database

    def read(self) -> dict[int, float]:
        return {p: proc_cpu(p) for p in [self.pid, *backends(self.dsn, self.database)]}

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(v - before.get(p, 0.0) for p, v in after.items())



# ---- clients -------------------------------------------------------------------------------

class Client:
    """One console: its own sessions and its own keep-alive connection."""

    def __init__(self, port: int, tokens: dict[str, str]) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.tokens = tokens

    def call(self, method: str, path: str, who: str | None = None, body: dict | None = None
             ) -> tuple[float, int, bytes]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        payload = None
        if body is not None:
            payload = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection (uvicorn: after 5 s), as a
            # browser would find it: connect again and send (the time includes the connect).
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        return (time.perf_counter() - t0) * 1000, response.status, data

    def close(self) -> None:
        self.conn.close()


Latencies = dict[str, list[float]]


Run = tuple[Latencies, float, float, list[str]]


def run_clients(srv: tuple[CpuMeter, int], tokens: list[dict[str, str]],
                work: Callable[[Client, Latencies, random.Random], None]) -> Run:
    """Every client in its own thread, all started together; (latencies by op, seconds, CPU
    seconds of the app and its PostgreSQL backends, errors)."""
    meter, port = srv
    merged: Latencies = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(tokens) + 1)

    def one(i: int) -> None:
        client = Client(port, tokens[i])
        mine: Latencies = defaultdict(list)
        rng = random.Random(i)
        try:
            start.wait()
            work(client, mine, rng)
        except Exception as exc:  # counted and shown: a benchmark reports, it does not stop
            with lock:
                errors.append(f"client {i}: {exc}")
        finally:
            client.close()
            with lock:
                for op, values in mine.items():
                    merged[op].extend(values)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    start.wait()
    t0, cpu0 = time.perf_counter(), meter.read()
    for t in threads:
        t.join()
    return merged, time.perf_counter() - t0, CpuMeter.spent(cpu0, meter.read()), errors


def case_flow(cases: int, points: list[tuple[float, float]], think_ms: float
              ) -> Callable[[Client, Latencies, random.Random], None]:
    def pause(rng: random.Random) -> None:
        if think_ms:
            time.sleep(rng.uniform(0.5, 1.5) * think_ms / 1000)

    def work(client: Client, lat: Latencies, rng: random.Random) -> None:
        for _ in range(cases):
            pause(rng)
            lon, lat_ = rng.choice(points)
            ms, status, data = client.call("POST", "/api/incidents", "sup", {
                "category_code": CATEGORY, "description": "bench: 暴露垃圾", "lon": lon,
                "lat": lat_, "idempotency_key": f"bench-{secrets.token_hex(8)}"})
            if status != 201:
                raise RuntimeError(f"report: {status} {data[:200]!r}")
            lat["report"].append(ms)
            case_id = orjson.loads(data)["id"]
            for action, who in FLOW:
                pause(rng)
                body = {"note": "bench"} if action in NEEDS_NOTE else {}
                ms, status, data = client.call(
                    "POST", f"/api/incidents/{case_id}/actions/{action}", who, body)
                if status != 200:
                    raise RuntimeError(f"{action}: {status} {data[:200]!r}")
                lat[action].append(ms)
    return work


def warm(client: Client, lat: Latencies, rng: random.Random) -> None:
    """Every session once (the server caches resolved sessions) with every client at once (the
    connection pool grows to its size): what follows measures consoles already signed in."""
    for who in client.tokens:
        ms, status, _ = client.call("GET", "/api/auth/me", who)
        if status != 200:
            raise RuntimeError(f"me: {status}")
        lat["warm"].append(ms)


def health(requests: int, think_ms: float) -> Callable[[Client, Latencies, random.Random], None]:
    def work(client: Client, lat: Latencies, rng: random.Random) -> None:
        for _ in range(requests):
            if think_ms:
                time.sleep(rng.uniform(0.5, 1.5) * think_ms / 1000)
            ms, status, _ = client.call("GET", "/api/health")
            if status != 200:
                raise RuntimeError(f"health: {status}")
            lat["health"].append(ms)
    return work


# The console's desk asks for the open states, 300 at most (frontend/src/desk/store.ts).
DESK_QUERY = "&".join(["limit=300", *(f"state={s}" for s in (
    "reported", "filed", "dispatched", "accepted", "in_progress", "handled", "verifying",
    "returned", "parked"))])
QUEUE_PATHS = {"queue": ("/api/incidents", "disp"),                    # the request
               "queue (desk)": (f"/api/incidents?{DESK_QUERY}", "disp"),  # the console's
               "queue (unit)": (f"/api/incidents?{DESK_QUERY}", "hand")}  # a unit's desk


def queue_reads(requests: int, think_ms: float
                ) -> Callable[[Client, Latencies, random.Random], None]:
    """The case queue as it is read: plain (the issue's request), a dispatcher's desk (the
    open cases, every department) and a unit handler's desk (its department's), in turn."""
    def work(client: Client, lat: Latencies, rng: random.Random) -> None:
        ops = list(QUEUE_PATHS.items())
        for n in range(requests):
            if think_ms:
                time.sleep(rng.uniform(0.5, 1.5) * think_ms / 1000)
            op, (path, who) = ops[n % len(ops)]
            ms, status, data = client.call("GET", path, who)
            if status != 200:
                raise RuntimeError(f"{op}: {status} {data[:200]!r}")
            lat[op].append(ms)
    return work
