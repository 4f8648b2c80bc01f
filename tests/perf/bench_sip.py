"""GB/T 28181 signalling benchmark (`make bench`): registers/s and keepalives/s through the SIP
endpoint into PostGIS, against the sink's own database rate and a bare UDP echo, same run.

A scratch database (`--database`, dropped at the end) gets the migrations and the demo county
at 2 %; `--devices` synthetic NVRs are enrolled (realm secret). The listener and its database
sink (backend.cameras.status) run with an in-memory hub; the simulated devices
(backend.simulation.camera_devices) run on a second event loop in another thread, over UDP:
- register: every device REGISTERs at once (401 challenge, digest, 200; each answer is
  followed by the platform's Catalog query, which the device answers): registers/s;
- keepalive: every device sends `--keepalives` Keepalive MESSAGEs, each waiting for its 200:
  keepalives/s answered, the round trip's p50/p95, and keepalives/s stored (the 200 goes out
  before the sink writes, per the protocol, so the writes finish later);
- baselines: the sink's keepalive write alone (`CameraStatus._keepalive` from `--devices`
  threads' worth of concurrency through the same pool), and a bare asyncio UDP echo server
  answered by the same client loop (the transport's ceiling).
Figures, not assertions. On the shared 2-core machine (2026-12-05, 300 devices x 10): 140
registers/s, 791 keepalives/s answered and 772/s stored (RTT p50 137 ms, p95 743 ms) against
1368/s for the sink's write alone and 2830/s for a bare UDP echo; the demo's 2,000 cameras at
one keepalive a minute need 33/s.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import threading
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from backend.cameras.status import CameraStatus
from backend.ingest.gb28181.listener import SipListener
from backend.realtime.hub import Hub
from backend.simulation.camera_devices import SimDevice
from tests.perf.common import ScratchDatabase, pct

PASSWORD = "bench-realm-secret"
SERVER, REALM = "34132400002000000001", "3413240000"


def device_ids(n: int) -> list[str]:
    return [f"3413240000118{800_000 + i:07d}" for i in range(n)]


class ServerThread:
    """The listener and its sink on their own loop, as in the app."""

    def __init__(self, engine: sa.Engine, settings: object) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.engine, self.settings = engine, settings

    def call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()  # type: ignore[arg-type]

    async def start(self) -> SipListener:
        self.hub = Hub.from_settings(self.settings)  # type: ignore[arg-type]
        await self.hub.start()
        self.status = CameraStatus(self.engine, self.hub, counties={"341324"}, keepalive_s=60,
                                   misses=3)
        self.listener = SipListener("127.0.0.1", 0, sink=self.status, server_id=SERVER,
                                    realm=REALM, password=PASSWORD, max_inflight=4096)
        await self.listener.start()
        return self.listener

    async def drained(self) -> None:
        while self.listener._udp_tasks:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        await self.listener.stop()
        await self.hub.close()


async def clients(port: int, ids: list[str], keepalives: int, server: ServerThread
                  ) -> dict[str, float]:
    sims = [SimDevice(d, server_id=SERVER, realm=REALM, password=PASSWORD, host="127.0.0.1",
                      port=port, timeout_s=32.0) for d in ids]
    for sim in sims:
        await sim.open()
    try:
        started = time.perf_counter()
        codes = await asyncio.gather(*(s.register() for s in sims))
        register_s = time.perf_counter() - started
        assert set(codes) == {200}, codes
        await asyncio.sleep(1.0)  # let the catalog exchanges finish
        rtts: list[float] = []

        async def beat(sim: SimDevice) -> None:
            for _ in range(keepalives):
                t = time.perf_counter()
                assert await sim.keepalive() == 200
                rtts.append((time.perf_counter() - t) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(beat(s) for s in sims))
        keepalive_s = time.perf_counter() - started
        # 200 is answered before the sink writes (the protocol's order): wait for the writes
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(server.drained(),
                                                                   server.loop))
        stored_s = time.perf_counter() - started
    finally:
        for sim in sims:
            await sim.close()
    return {"registers_per_s": len(ids) / register_s,
            "keepalives_per_s": len(ids) * keepalives / keepalive_s,
            "keepalives_stored_per_s": len(ids) * keepalives / stored_s,
            "keepalive_p50_ms": pct(rtts, 0.5), "keepalive_p95_ms": pct(rtts, 0.95)}


def sink_alone(status: CameraStatus, ids: list[str], rounds: int) -> float:
    now = datetime.now(UTC)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        started = time.perf_counter()
        list(pool.map(lambda d: status._keepalive(d, now), ids * rounds))
        return len(ids) * rounds / (time.perf_counter() - started)


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)  # type: ignore[attr-defined]


async def udp_echo_rate(n_clients: int, rounds: int, size: int = 400) -> float:
    loop = asyncio.get_running_loop()
    server, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
    port = server.get_extra_info("sockname")[1]

    class Client(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.got: asyncio.Queue[bytes] = asyncio.Queue()

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.got.put_nowait(data)

    async def one() -> None:
        transport, proto = await loop.create_datagram_endpoint(
            Client, remote_addr=("127.0.0.1", port))
        for _ in range(rounds):
            while True:  # UDP: a datagram lost under load is sent again, as SIP does
                transport.sendto(b"x" * size)
                try:
                    await asyncio.wait_for(proto.got.get(), 0.5)
                    break
                except TimeoutError:
                    continue
        transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n_clients)))
    rate = n_clients * rounds / (time.perf_counter() - started)
    server.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="cityops_bench_sip")
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--keepalives", type=int, default=20)
    args = parser.parse_args()
    db = ScratchDatabase(args.database, 0.02, "bench_sip", pool_size=10)
    try:
        ids = device_ids(args.devices)
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO camera_devices (code) SELECT unnest(:c)"),
                         {"c": ids})
        server = ServerThread(db.engine, db.settings)
        listener = server.call(server.start())
        port = listener.port  # type: ignore[union-attr]
        figures = asyncio.run(clients(port, ids, args.keepalives, server))
        server.call(server.stop())
        figures["sink_keepalives_per_s"] = sink_alone(server.status, ids, args.keepalives)
        figures["udp_echo_per_s"] = asyncio.run(udp_echo_rate(args.devices, args.keepalives))
        rejected = dict(listener.stats.rejected)  # type: ignore[union-attr]
        print(f"bench_sip: {args.devices} devices, {args.keepalives} keepalives each "
              f"(rejected: {rejected or 'none'})")
        for name, value in figures.items():
            print(f"  {name:24s} {value:10.1f}")
        ratio = figures["keepalives_stored_per_s"] / figures["sink_keepalives_per_s"]
        print(f"  {'endpoint / sink alone':24s} {ratio:10.2f}")
    finally:
        db.engine.dispose()
        db.drop()


if __name__ == "__main__":
    main()
