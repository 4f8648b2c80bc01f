"""Issue 8, defects 2 and 3: only terminals in the fleet register may register, codes are
random per registration and revocable, one connection speaks for one terminal, and no frame
(a GBK auth code, a database error) drops the link silently."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from backend.errors import NotFound
from backend.ingest.jt808 import messages as m
from backend.ingest.jt808.gateway import Jt808Gateway
from backend.vehicles import terminals
from backend.vehicles.terminals import code_hash
from backend.vehicles.terminals_cli import run_cli
from tests.ingest.jt808.support import Collected, Terminal, fix, fleet, plate_of, run, vehicle_of


def auth_row(engine: sa.Engine, key: str) -> tuple | None:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT code_sha256, generation, revoked_at FROM terminal_auth "
            "WHERE terminal_phone = :p"), {"p": key}).first()


def test_unknown_terminals_are_refused_at_register(engine: sa.Engine) -> None:
    """The spoofing reproducer: a phone the register does not know gets 2 (no such vehicle)
    or 4 (the plate is a known vehicle, this terminal is not), and no code."""
    known = "013700000011"
    spoof = Terminal("013700000012")

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await spoof.connect(gw.port)
        reply = await spoof.register()  # unknown phone, unknown plate
        assert (reply.result, reply.auth_code) == (2, "")
        reply = await spoof.register(m.Register(plate=plate_of(known), plate_color=1))
        assert (reply.result, reply.auth_code) == (4, "")
        # Without a code nothing is accepted: the SOS fix is refused, not stored.
        assert await spoof.report(fix(0, alarm=1)) == 1
        assert await spoof.authenticate("0" * 32) == 1
        assert sink.positions == []
        assert gw.stats.refused_registrations == {"unknown_vehicle": 1, "unknown_terminal": 1}
        assert gw.stats.rejected["register_refused"] == 2
        await spoof.close()

    with fleet(engine, known):
        run(engine, body)
    assert auth_row(engine, "13700000012") is None


def test_plate_and_terminal_id_must_match_the_register(engine: sa.Engine) -> None:
    t = Terminal("013700000013")

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await t.connect(gw.port)
        wrong_plate = m.Register(terminal_id="T000001", plate_color=1, plate="沪A00013")
        assert (await t.register(wrong_plate)).result == 2
        wrong_tid = m.Register(terminal_id="X999999", plate_color=1, plate=plate_of(t.phone))
        assert (await t.register(wrong_tid)).result == 4
        # The register's plate "皖L00013" matches however the terminal spaces it.
        right = m.Register(terminal_id="t000001", plate_color=1, plate="皖L·000 13")
        reply = await t.register(right)
        assert reply.result == 0 and len(reply.auth_code) == 32
        assert gw.stats.refused_registrations == {"plate_mismatch": 1,
                                                  "terminal_id_mismatch": 1}
        await t.close()

    with fleet(engine, t.phone, terminal_id="T000001"):
        run(engine, body)


def test_codes_are_random_stored_hashed_and_replaced(engine: sa.Engine) -> None:
    """Each registration issues a new code (only its SHA-256 is stored); the old one stops
    working and a connection still using it is closed; a 2019 header (20 digits) is the same
    terminal as the 2013 one (12 digits)."""
    old, new = Terminal("013700000014"), Terminal("00000000013700000014", 2019)

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await old.connect(gw.port)
        await old.login()
        assert await old.report(fix(0)) == 0
        first = auth_row(engine, "13700000014")
        assert first is not None and bytes(first[0]) == code_hash(old.code.encode())
        await new.connect(gw.port)
        await new.login()
        assert new.code != old.code
        assert auth_row(engine, "13700000014")[1] == first[1] + 1  # type: ignore[index]
        assert await gw.recheck() == 1  # the connection on the old code is ended
        assert await old.closed()
        assert gw.stats.closed["revoked"] == 1
        again = Terminal(old.phone)
        await again.connect(gw.port)
        assert await again.authenticate(old.code) == 1  # the old code is dead
        assert await again.authenticate(new.code) == 0  # either header form, same terminal
        assert await again.report(fix(1)) == 0
        assert [p.vehicle_id for p in sink.positions] == [vehicle_of(old.phone)] * 2
        await again.close()
        await new.close()

    with fleet(engine, old.phone):
        run(engine, body, recheck_s=0)


def test_revoked_terminal_is_cut_off_until_allowed(
    engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    t = Terminal("013700000015")

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await t.connect(gw.port)
        await t.login()
        with engine.begin() as conn:
            terminals.revoke(conn, "013700000015", actor="cli:test")
        # The gateway's own timer (recheck_s) closes the live connection.
        assert await asyncio.wait_for(t.closed(), 3)
        assert gw.stats.closed["revoked"] == 1
        t2 = Terminal(t.phone)
        await t2.connect(gw.port)
        assert await t2.authenticate(t.code) == 1
        assert (await t2.register()).result == 4
        assert gw.stats.refused_registrations["revoked"] == 1
        assert run_cli("allow", t.phone, engine, actor="cli:test") == 0
        await t2.login()
        assert await t2.report(fix(0)) == 0
        await t2.close()

    with fleet(engine, t.phone):
        run(engine, body, recheck_s=0.2)
        assert run_cli("list", None, engine, actor="cli:test") == 0
    out = capsys.readouterr().out
    assert "13700000015" in out and "registered" in out
    assert auth_row(engine, "13700000015") is None  # removed with its vehicle
    with engine.connect() as conn:
        actions = conn.execute(sa.text(
            "SELECT action, actor FROM audit_log WHERE entity = 'terminal' AND "
            "entity_id = '13700000015' ORDER BY id")).all()
    assert [tuple(a) for a in actions] == [
        ("terminal.register", "terminal:13700000015"), ("terminal.revoke", "cli:test"),
        ("terminal.allow", "cli:test"), ("terminal.register", "terminal:13700000015")]
    with pytest.raises(NotFound), engine.begin() as conn:
        terminals.revoke(conn, "019999999999", actor="cli:test")


def test_one_connection_speaks_for_one_terminal(engine: sa.Engine) -> None:
    a, b = Terminal("013700000016"), Terminal("013700000017")

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await a.connect(gw.port)
        await a.login()
        await b.connect(gw.port)
        await b.login()
        b_code = b.code
        # On a's connection, frames for b are refused, whatever their kind.
        b.reader, b.writer = a.reader, a.writer
        assert await b.report(fix(0, alarm=1)) == 1
        assert await b.authenticate(b_code) == 1
        await b.send(m.encode_register(b.phone, b.next_serial(), m.Register(
            terminal_id="T000001", plate_color=1, plate=plate_of(b.phone))))
        assert await b.general() == m.GeneralResponse(b.serial, m.REGISTER, 1)  # no code
        assert gw.stats.rejected["wrong_terminal"] == 3
        assert sink.positions == []
        assert await a.report(fix(1)) == 0  # a itself goes on
        await a.close()

    with fleet(engine, a.phone, b.phone):
        run(engine, body)


def test_non_ascii_auth_code_is_answered_not_dropped(engine: sa.Engine) -> None:
    """The fuzz finding: a GBK or undecodable auth code raised TypeError in compare_digest and
    the connection was dropped. Now it is a failed authentication on a live link."""
    t = Terminal("013700000018")

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await t.connect(gw.port)
        assert await t.authenticate("鉴权码") == 1
        await t.send(m.encode_frame(m.AUTHENTICATE, t.phone, t.next_serial(), b"\xff\xfe\x81\x00"))
        assert await t.general() == m.GeneralResponse(t.serial, m.AUTHENTICATE, 1)
        await t.login()
        assert await t.report(fix(0)) == 0
        assert gw.stats.rejected["auth_failed"] == 2 and "internal_error" not in gw.stats.rejected
        assert gw.stats.closed == {}
        await t.close()

    with fleet(engine, t.phone):
        run(engine, body)


def test_an_error_in_one_frame_is_counted_and_answered() -> None:
    """The database away: register and authenticate fail inside the gateway; each frame is
    answered "failure" and counted as internal_error, and the link stays up."""
    down = sa.create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none",
                            connect_args={"connect_timeout": 2})
    t = Terminal("013700000019")

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await t.connect(gw.port)
        await t.send(m.encode_register(t.phone, t.next_serial(), m.Register()))
        assert await t.general() == m.GeneralResponse(t.serial, m.REGISTER, 1)
        assert await t.authenticate("x" * 32) == 1
        await t.send(m.encode_heartbeat(t.phone, t.next_serial()))
        assert (await t.general()).result == 0
        assert gw.stats.rejected == {"internal_error": 2}
        assert gw.stats.frames == 3 and gw.stats.accepted == 1
        await t.close()

    try:
        run(down, body)
    finally:
        down.dispose()


def test_an_operator_enrols_a_terminal_which_may_then_register(
    engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cityops terminals add` is how a terminal gets into the fleet register (audited)."""
    import argparse

    from backend.errors import InvalidInput

    phone, vid = "013700000020", "jt-enrolled-20"
    t = Terminal(phone)
    args = argparse.Namespace(vehicle_id=vid, plate="皖L00020", terminal_id="T000001",
                              line=None, label="enrolled")

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await t.connect(gw.port)
        await t.login()
        assert await t.report(fix(0)) == 0
        assert [p.vehicle_id for p in sink.positions] == [vid]
        await t.close()

    try:
        assert run_cli("add", phone, engine, actor="cli:test", args=args) == 0
        assert f"enrolled on vehicle {vid}" in capsys.readouterr().out
        run(engine, body)
        with pytest.raises(InvalidInput, match="already carried by vehicle"), \
                engine.begin() as conn:
            terminals.enrol(conn, phone, actor="cli:test", vehicle_id="jt-other-20")
        with pytest.raises(InvalidInput, match="--vehicle-id"), engine.begin() as conn:
            terminals.enrol(conn, "013700000021", actor="cli:test", vehicle_id="bus\t21")
        with engine.connect() as conn:
            enrolled = conn.execute(sa.text(
                "SELECT actor FROM audit_log WHERE action = 'terminal.enrol' "
                "AND entity_id = '13700000020'")).scalars().all()
        assert enrolled == ["cli:test"]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM vehicles WHERE vehicle_id = :v"), {"v": vid})


def test_an_anonymous_client_cannot_make_the_gateway_work_without_bound(
    engine: sa.Engine,
) -> None:
    """Each 0x0100/0x0102 is a database look-up: a connection gets a few (max_auth_attempts),
    then is refused without one; connections beyond max_connections are closed at once."""
    t = Terminal("013700000022")

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        await t.connect(gw.port)
        for _ in range(3):
            assert await t.authenticate("guess") == 1
        assert gw.stats.rejected["auth_failed"] == 3
        assert await t.authenticate("guess") == 1
        await t.send(m.encode_register(t.phone, t.next_serial(), m.Register()))
        assert await t.general() == m.GeneralResponse(t.serial, m.REGISTER, 1)
        assert gw.stats.rejected["too_many_attempts"] == 2
        extra = Terminal("013700000023")
        await extra.connect(gw.port)
        assert await extra.closed()
        assert gw.stats.closed["over_capacity"] == 1
        await t.send(m.encode_heartbeat(t.phone, t.next_serial()))
        assert (await t.general()).result == 0  # the first connection goes on
        await t.close()

    run(engine, body, max_auth_attempts=3, max_connections=1)
