"""The gateway over real TCP on 127.0.0.1 with simulated terminals (the codec's encoders),
trusting the real fleet register."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from backend.ingest.jt808 import messages as m
from backend.ingest.jt808.codec import encode_frame
from backend.ingest.jt808.gateway import Jt808Gateway
from tests.ingest.jt808.support import T0, Collected, Terminal, fix, fleet, run, vehicle_of


def test_end_to_end_two_terminals(engine: sa.Engine) -> None:
    a, b = Terminal("013700000001"), Terminal("00000000013700000002", 2019)

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await a.connect(gw.port)
        await b.connect(gw.port)
        await a.login()
        await b.login()

        assert await a.report(fix(0, alarm=1)) == 0

        # a malformed frame with a readable header: answered "bad message", counted
        bad = bytearray(m.encode_location(a.phone, a.next_serial(), fix(1)))
        bad[-2] ^= 0x55  # checksum
        await a.send(bytes(bad))
        assert await a.general() == m.GeneralResponse(a.serial, m.LOCATION, 2)

        # pure noise, then a backfill batch (late, out of order) in the same write
        late = [fix(-300), fix(-900), fix(-600)]
        await a.send(b"\x7e\x01\x02\x03\x7e" + m.encode_batch(a.phone, a.next_serial(), late))
        assert await a.general() == m.GeneralResponse(a.serial, m.BATCH, 0)

        # the other connection is unaffected
        assert await b.report(fix(2)) == 0
        await b.send(m.encode_heartbeat(b.phone, b.next_serial(), version=2019))
        assert await b.general() == m.GeneralResponse(b.serial, m.HEARTBEAT, 0)

        assert await a.report(fix(3)) == 0

        # Stored under the fleet register's vehicle id, not the header's phone.
        va, vb = vehicle_of(a.phone), vehicle_of(b.phone)
        assert [(p.vehicle_id, p.time) for p in sink.positions] == [
            (va, T0), *[(va, loc.time) for loc in late],
            (vb, T0 + timedelta(seconds=2)), (va, T0 + timedelta(seconds=3)),
        ]
        assert sink.positions[0].alarm_flags == 1 and sink.positions[0].source == "jt808"
        assert gw.stats.positions == 6
        assert gw.stats.rejected == {"bad_checksum": 1, "too_short": 1}
        assert gw.stats.connections == 2 and gw.stats.open_connections == 2
        assert gw.stats.frames == gw.stats.accepted + 2 == 11
        assert gw.stats.messages["location"] == 3 and gw.stats.messages["register"] == 2
        await a.close()
        await b.close()

    with fleet(engine, a.phone, "013700000002"):
        run(engine, body)


def test_unauthenticated_and_wrong_code_rejected(engine: sa.Engine) -> None:
    t = Terminal("013700000003")

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await t.connect(gw.port)
        assert await t.report(fix(0)) == 1
        assert await t.authenticate("guess") == 1
        await t.send(encode_frame(0x0900, t.phone, t.next_serial(), b"\x01"))
        assert await t.general() == m.GeneralResponse(t.serial, 0x0900, 3)
        await t.login()
        assert await t.report(fix(1)) == 0
        assert len(sink.positions) == 1
        assert gw.stats.rejected["not_authenticated"] == 1
        assert gw.stats.rejected["auth_failed"] == 1
        assert gw.stats.rejected["unsupported_message"] == 1
        await t.close()

    with fleet(engine, t.phone):
        run(engine, body)


def test_garbage_only_connection_closed_gateway_keeps_serving(engine: sa.Engine) -> None:
    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        noisy = Terminal("013700000004")
        await noisy.connect(gw.port)
        noisy.writer.write(b"\x00" * 20_000)
        assert await asyncio.wait_for(noisy.reader.read(), 5) == b""  # closed by the gateway
        assert gw.stats.closed["garbage"] == 1
        ok = Terminal("013700000005")
        await ok.connect(gw.port)
        await ok.login()
        await ok.close()

    with fleet(engine, "013700000005"):
        run(engine, body, max_garbage_bytes=1000)


def test_idle_connection_closed_heartbeat_keeps_alive(engine: sa.Engine) -> None:
    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        live, idle = Terminal("013700000006"), Terminal("013700000007")
        await live.connect(gw.port)
        await idle.connect(gw.port)
        for _ in range(4):
            await asyncio.sleep(0.1)
            await live.send(m.encode_heartbeat(live.phone, live.next_serial()))
            assert (await live.general()).result == 0
        assert await asyncio.wait_for(idle.reader.read(), 5) == b""
        assert gw.stats.closed["idle"] == 1 and gw.stats.open_connections == 1
        await live.close()

    run(engine, body, idle_timeout=0.25)


def test_sink_failure_answered_fail(engine: sa.Engine) -> None:
    t = Terminal("013700000008")

    async def main() -> None:
        async def sink(positions: list[object]) -> None:
            raise RuntimeError("database down")

        from backend.vehicles.terminals import FleetTerminals

        async with Jt808Gateway(port=0, sink=sink, trust=FleetTerminals(engine)) as gw:  # type: ignore[arg-type]
            await t.connect(gw.port)
            await t.login()
            assert await t.report(fix(0)) == 1
            assert gw.stats.rejected["sink_error"] == 1 and gw.stats.positions == 0
            await t.close()

    with fleet(engine, t.phone):
        asyncio.run(main())


def test_stop_closes_open_connections(engine: sa.Engine) -> None:
    async def main() -> None:
        from backend.vehicles.terminals import FleetTerminals

        gw = Jt808Gateway(port=0, sink=Collected(), trust=FleetTerminals(engine))  # type: ignore[arg-type]
        await gw.start()
        t = Terminal("013700000009")
        await t.connect(gw.port)
        await t.send(m.encode_heartbeat(t.phone, t.next_serial()))
        assert (await t.general()).result == 0
        await asyncio.wait_for(gw.stop(), 5)
        assert await asyncio.wait_for(t.reader.read(), 5) == b""
        assert gw.stats.open_connections == 0 and gw.stats.closed["shutdown"] == 1

    asyncio.run(main())
