"""Live-bus benchmark (`make bench`): the /ws hub against a bare `websockets` broadcast server.

Three kinds of process on loopback, so that neither side measures the other's event loop:
- the server: either a bare `websockets.asyncio.server` that `broadcast()`s one pre-serialised
  frame per event to every connection (a viewport filter, when clients send one, is a plain
  bbox test per connection before the broadcast), or the real hub app (hub + /ws router, memory
  backplane) under uvicorn, one worker. Both run the same event loop (uvloop when installed) and
  a publisher task fed by the orchestrator over stdin; every event carries `time.time()` at
  publish in `data.sent`;
- the clients (`--client-procs` processes, 1,000 connections in all): a minimal websocket
  client written on asyncio.Protocol (handshake by hand, no compression offered unless
  --deflate, frames parsed in place), cheaper per message than either server, so that the
  figures are the server's. Each
  authenticates, subscribes to `vehicles.positions` (whole county or a random small bbox) and
  adds `receive - sent` of every event to a 1 ms histogram;
- this orchestrator, which runs the scenarios on both servers, interleaved, `--repeat` times.

Scenarios: unfiltered and viewport-filtered (each client a random `--bbox-deg` square over the
county) at 100 and 1,000 events/s, positions of `--vehicles` distinct vehicles (so the hub's
latest-position-per-vehicle coalescing works when a client lags). The publisher works in 5 ms
ticks and stamps each event with its scheduled time, so a server that falls behind shows it in
its latencies (no coordinated omission). Saturation: `--sat-rate` events/s offered, far above
what either server delivers to 1,000 clients; deliveries/s counted at the clients, latency from
the actual publish time. Stall: 10 % of the clients (small receive buffers) pause reading for
`--stall-s` seconds: the others' p99 before and during, and the server's RSS (VmRSS) before, at
the peak during and after. Also printed: the server's and the clients' CPU (cores) and how busy
the whole machine was; deliveries per server CPU-second is the figure that survives other load
on a shared machine. Figures, not assertions: medians of the runs.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from tests.perf.common import free_port, machine_busy
from tests.perf.common import proc_cpu as cpu_s
from tests.perf.hub_clients import HIST_MS, ClientProc
from tests.perf.hub_servers import loop_name, new_loop, serve_bare, serve_hub


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---- the orchestrator ----------------------------------------------------------------------

class Proc:
    """A child process spoken to in JSON lines over stdin/stdout."""

    def __init__(self, args: list[str]) -> None:
        self.p = subprocess.Popen([sys.executable, "-m", "tests.perf.bench_hub", *args],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)
        self.pid = self.p.pid

    def send(self, line: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def recv(self) -> dict[str, Any]:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"child {self.p.args} ended ({self.p.poll()})")
        return json.loads(line)

    def ask(self, line: str) -> dict[str, Any]:
        self.send(line)
        return self.recv()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            assert self.p.stdin is not None
            self.p.stdin.close()
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def ask_all(procs: list[Proc], line: str) -> list[dict[str, Any]]:
    for p in procs:
        p.send(line)
    return [p.recv() for p in procs]


def percentile(hist: list[int], q: float) -> float | None:
    total = sum(hist)
    if not total:
        return None
    rank, seen = q * (total - 1), 0
    for ms, count in enumerate(hist):
        seen += count
        if seen > rank:
            return ms + 0.5  # bucket middle
    return float(HIST_MS)


def merge(reports: list[dict[str, Any]], window: int, groups: tuple[int, ...] = (0, 1)
          ) -> tuple[list[int], int]:
    hist = [0] * (HIST_MS + 1)
    delivered = 0
    for r in reports:
        w = r["windows"][window]
        for g in groups:
            hist = [a + b for a, b in zip(hist, w["hist"][g], strict=True)]
            delivered += w["delivered"][g]
    return hist, delivered


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def run_server(self, kind: str) -> dict[str, dict[str, Any]]:
        a = self.args
        port = free_port()
        server = Proc([f"--serve-{kind}", str(port), "--vehicles", str(a.vehicles),
                       *(["--deflate"] if a.deflate else []),
                       *(["--hub-gc-threshold", a.hub_gc_threshold]
                         if a.hub_gc_threshold else [])])
        clients: list[Proc] = []
        out: dict[str, dict[str, Any]] = {}
        try:
            if not server.recv().get("ready"):
                raise RuntimeError("server did not start")
            if kind == "hub":  # uvicorn binds after the lifespan has started
                deadline = time.time() + 30
                while time.time() < deadline:
                    with socket.socket() as s:
                        if s.connect_ex(("127.0.0.1", port)) == 0:
                            break
                    time.sleep(0.05)
            clients = [Proc(["--clients-child"]) for _ in range(a.client_procs)]
            per = [a.clients // a.client_procs + (i < a.clients % a.client_procs)
                   for i in range(a.client_procs)]
            firsts = [sum(per[:i]) for i in range(a.client_procs)]

            def connect(bbox: float) -> None:
                ask_all(clients, "close")
                for c, n, f in zip(clients, per, firsts, strict=True):
                    c.send(f"connect {port} {n} {f} {bbox} {a.seed} {int(a.deflate)}")
                got = sum(c.recv()["subscribed"] for c in clients)
                if got < a.clients:
                    raise RuntimeError(f"{kind}: only {got} of {a.clients} clients subscribed")

            def steady(name: str, rate: float) -> None:
                t0 = time.time() + 0.3
                m0, m1 = t0 + a.warmup, t0 + a.warmup + a.duration
                ask_all(clients, f"measure {m0} {m1}")
                cpu0 = [cpu_s(p.pid) for p in (server, *clients)]
                busy0 = machine_busy()
                pub = server.ask(f"pub {rate} {t0} {m1} 1")
                busy1 = machine_busy()
                cpu1 = [cpu_s(p.pid) for p in (server, *clients)]
                ask_all(clients, f"quiet 0.5 {a.drain_s}")
                reports = ask_all(clients, "report")
                hist, delivered = merge(reports, 0)
                wall = m1 - t0
                out[name] = {
                    "deliveries": delivered / a.duration, "p50": percentile(hist, 0.5),
                    "p99": percentile(hist, 0.99), "published": pub["rate"],
                    "server_cpu": (cpu1[0] - cpu0[0]) / wall,
                    "clients_cpu": sum(b - c for b, c in zip(cpu1[1:], cpu0[1:], strict=True))
                    / wall,
                    "machine": (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]),
                    "per_cpu": delivered / a.duration / max((cpu1[0] - cpu0[0]) / wall, 1e-9),
                    "coalesced": pub.get("coalesced", 0), "dropped": pub.get("dropped", 0),
                    "gc2": pub.get("gc2", 0), "gc2_max_ms": pub.get("gc2_max_ms", 0),
                    "gc_young_max_ms": pub.get("gc_young_max_ms", 0),
                    "lost": sum(r["lost"] for r in reports),
                    "notes": sorted({n for r in reports for n in r["notes"]}),
                }

            def stall() -> None:
                t0 = time.time() + 0.3
                a0 = t0 + a.warmup
                b0 = a0 + a.duration
                b1 = b0 + a.stall_s
                c1 = b1 + a.duration
                ask_all(clients, f"measure {a0} {b0} {b0} {b1} {b1} {c1}")
                ask_all(clients, f"stall {b0} {b1}")
                rss: list[tuple[float, float]] = []
                done = threading.Event()

                def sample() -> None:
                    while not done.is_set():
                        rss.append((time.time(), rss_mb(server.pid)))
                        time.sleep(0.1)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                try:
                    server.ask(f"pub {a.stall_rate} {t0} {c1} 1")
                    ask_all(clients, f"quiet 0.5 {a.drain_s}")
                finally:
                    done.set()
                    sampler.join()
                reports = ask_all(clients, "report")
                before = [m for t, m in rss if a0 <= t < b0]
                during = [m for t, m in rss if b0 <= t < b1]
                after = [m for t, m in rss if b1 + 1 <= t]
                p99 = {}
                for i, name in enumerate(("before", "during", "after")):
                    p99[name] = percentile(merge(reports, i, (0,))[0], 0.99)
                out["stall"] = {
                    "p99_others_before": p99["before"], "p99_others_during": p99["during"],
                    "p99_others_after": p99["after"],
                    "p99_stallers_after": percentile(merge(reports, 2, (1,))[0], 0.99),
                    "rss_before": statistics.median(before) if before else 0.0,
                    "rss_during_max": max(during, default=0.0),
                    "rss_after": statistics.median(after) if after else 0.0,
                    "lost": sum(r["lost"] for r in reports),
                }

            def saturate() -> None:
                t0 = time.time() + 0.3
                m0, m1 = t0 + a.warmup, t0 + a.warmup + a.duration
                ask_all(clients, f"measure {m0} {m1}")
                cpu0 = [cpu_s(p.pid) for p in (server, *clients)]
                busy0 = machine_busy()
                pub = server.ask(f"pub {a.sat_rate} {t0} {m1} 0")
                busy1 = machine_busy()
                cpu1 = [cpu_s(p.pid) for p in (server, *clients)]
                rss_end = rss_mb(server.pid)
                ask_all(clients, f"quiet 0.5 {a.drain_s}")
                reports = ask_all(clients, "report")
                hist, delivered = merge(reports, 0)
                wall = m1 - t0
                out["sat"] = {
                    "deliveries": delivered / a.duration, "p50": percentile(hist, 0.5),
                    "p99": percentile(hist, 0.99), "published": pub["rate"],
                    "server_cpu": (cpu1[0] - cpu0[0]) / wall,
                    "clients_cpu": sum(b - c for b, c in zip(cpu1[1:], cpu0[1:], strict=True))
                    / wall, "rss_end": rss_end,
                    "machine": (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]),
                    "per_cpu": delivered / a.duration / max((cpu1[0] - cpu0[0]) / wall, 1e-9),
                    "coalesced": pub.get("coalesced", 0), "dropped": pub.get("dropped", 0),
                    "gc2": pub.get("gc2", 0), "gc2_max_ms": pub.get("gc2_max_ms", 0),
                    "gc_young_max_ms": pub.get("gc_young_max_ms", 0),
                    "lost": sum(r["lost"] for r in reports), "notes": [],
                }

            want = set(a.scenarios.split(","))
            if want & {"f100", "f1000"}:
                connect(a.bbox_deg)
                for name, rate in (("f100", 100), ("f1000", 1000)):
                    if name in want:
                        steady(name, rate)
            connect(0)
            for name, rate in (("u100", 100), ("u1000", 1000)):
                if name in want:
                    steady(name, rate)
            if "stall" in want:
                stall()
            if "sat" in want:
                saturate()
            return out
        finally:
            for c in clients:
                c.stop()
            server.stop()


SCENARIOS = [
    ("f100", "viewport-filtered, 100 ev/s"),
    ("f1000", "viewport-filtered, 1,000 ev/s"),
    ("u100", "unfiltered, 100 ev/s"),
    ("u1000", "unfiltered, 1,000 ev/s"),
    ("sat", "saturation (unfiltered, max rate)"),
]


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in runs[0].items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            vals = [r[k] for r in runs if r.get(k) is not None]
            out[k] = statistics.median(vals) if vals else None
        else:
            out[k] = v
    return out


def ms(v: float | None) -> str:
    return "      -" if v is None else f"{v:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--vehicles", type=int, default=500,
                        help="distinct vehicle ids (500 at 100 ev/s: a fix every 5 s each)")
    parser.add_argument("--bbox-deg", type=float, default=0.06,
                        help="side of each client's viewport in the filtered runs")
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds a run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--stall-s", type=float, default=10.0)
    parser.add_argument("--stall-rate", type=float, default=50.0)
    parser.add_argument("--sat-rate", type=float, default=2000.0,
                        help="offered events/s in the saturation run (above both servers)")
    parser.add_argument("--drain-s", type=float, default=10.0,
                        help="longest wait for queued frames after a run")
    parser.add_argument("--scenarios", default="f100,f1000,u100,u1000,stall,sat")
    parser.add_argument("--servers", default="bare,hub")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; medians shown")
    parser.add_argument("--seed", type=int, default=20201)
    parser.add_argument("--deflate", action="store_true",
                        help="clients offer permessage-deflate, as browsers do (uvicorn accepts "
                        "it by default; the bare server is told to): frames compressed per client")
    parser.add_argument("--hub-gc-threshold", metavar="T0,T1,T2",
                        help="an experiment: gc.set_threshold in the hub's process instead of "
                        "the server's SERVER_GC_THRESHOLD (700,10,10 is Python's default)")
    parser.add_argument("--quick", action="store_true", help="one short run (a smoke test)")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-hub", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--clients-child", dest="child", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.vehicles, args.deflate)
        return
    if args.serve_hub:
        serve_hub(args.serve_hub, args.vehicles, args.hub_gc_threshold)
        return
    if args.child:
        new_loop().run_until_complete(ClientProc().main())
        return
    if args.quick:
        args.repeat, args.duration, args.stall_s, args.drain_s = 1, 3.0, 5.0, 5.0

    print(f"{args.clients} clients in {args.client_procs} processes, {args.vehicles} vehicles, "
          f"filtered viewports {args.bbox_deg} deg square; {loop_name()} on both servers; "
          f"permessage-deflate {'offered' if args.deflate else 'not offered'}; "
          f"{args.duration:g} s measured a run after {args.warmup:g} s warm-up", flush=True)
    bench = Bench(args)
    kinds = args.servers.split(",")
    runs: dict[str, list[dict[str, dict[str, Any]]]] = {k: [] for k in kinds}
    for i in range(args.repeat):
        for kind in kinds:
            t = time.time()
            runs[kind].append(bench.run_server(kind))
            print(f"  run {i + 1}/{args.repeat} {kind}: {time.time() - t:.0f} s", flush=True)
    med = {kind: {name: median_of([r[name] for r in runs[kind]]) for name in runs[kind][0]}
           for kind in runs}
    report(args, med)


def report(args: argparse.Namespace, med: dict[str, dict[str, dict[str, Any]]]) -> None:
    kinds = list(med)
    print(f"medians of {args.repeat} runs, runs interleaved; latency = receive - scheduled "
          "publish time (saturation: - actual publish time); cpu in cores:")
    print(f"  {'scenario':<36} {'server':<5} {'published/s':>11} {'deliveries/s':>12} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'srv cpu':>7} {'per cpu-s':>9} {'cli cpu':>7} {'busy':>5}")
    for name, title in SCENARIOS:
        for kind in kinds:
            r = med[kind].get(name)
            if r is None:
                continue
            extra = ""
            if kind == "hub" and (r["coalesced"] or r["dropped"]):
                extra = f"  coalesced {r['coalesced']:.0f} dropped {r['dropped']:.0f}"
            if kind == "hub":
                extra += (f"  full GCs {r['gc2']:.0f} (longest {r['gc2_max_ms']:.0f} ms), "
                          f"young GC longest {r['gc_young_max_ms']:.0f} ms")
            print(f"  {title:<36} {kind:<5} {r['published']:11.0f} {r['deliveries']:12.0f} "
                  f"{ms(r['p50'])} {ms(r['p99'])} {r['server_cpu']:7.2f} "
                  f"{r['per_cpu']:9.0f} {r['clients_cpu']:7.2f} {r['machine']:5.0%}{extra}")
    if all("stall" in med[k] for k in kinds):
        print(f"stall: 10 % of clients stop reading for {args.stall_s:g} s "
              f"({args.stall_rate:g} ev/s, unfiltered):")
        for kind in kinds:
            s = med[kind]["stall"]
            print(f"  {kind:<5} others' p99 before {ms(s['p99_others_before'])} ms, during "
                  f"{ms(s['p99_others_during'])} ms, after {ms(s['p99_others_after'])} ms; "
                  f"stallers' p99 after {ms(s['p99_stallers_after'])} ms; server RSS before "
                  f"{s['rss_before']:.0f} MB, peak during {s['rss_during_max']:.0f} MB, after "
                  f"{s['rss_after']:.0f} MB")
    hub, bare = med.get("hub", {}), med.get("bare", {})
    print("ratios and targets:")
    if "sat" in hub and "sat" in bare:
        print(f"  saturation deliveries/s hub / bare = "
              f"{hub['sat']['deliveries'] / bare['sat']['deliveries']:.2f}   (target >= 0.8); "
              f"per server CPU-second {hub['sat']['per_cpu'] / bare['sat']['per_cpu']:.2f}")
    if "u1000" in hub and "u1000" in bare:
        print(f"  unfiltered 1,000 ev/s deliveries/s hub / bare = "
              f"{hub['u1000']['deliveries'] / bare['u1000']['deliveries']:.2f}")
    if "f1000" in hub:
        print(f"  1,000 clients x 1,000 ev/s, viewport-filtered, coalescing: hub p99 = "
              f"{ms(hub['f1000']['p99']).strip()} ms   (target <= 250 ms)")
    if "stall" in hub:
        s = hub["stall"]
        print(f"  hub stall: others' p99 during / before = "
              f"{(s['p99_others_during'] or 0) / max(s['p99_others_before'] or 1, 1):.1f}   "
              f"(target ~1); RSS peak during - before = "
              f"{s['rss_during_max'] - s['rss_before']:+.0f} MB, after - before = "
              f"{s['rss_after'] - s['rss_before']:+.0f} MB   (target: bounded)")

if __name__ == "__main__":
    main()
