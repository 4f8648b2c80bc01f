"""The audit chain anchored outside the database (issue 8, defect 10), against a real scratch
database: what the database's owner can do (delete the newest rows; edit a row and recompute
every later hash with the chain's own canonical text) passes the chain's own check, and is
caught by the signed anchors, naming the first anchor it contradicts."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.audit import commands
from backend.audit.anchoring import AuditAnchors
from backend.audit.anchors import (
    AnchorError,
    AnchorKey,
    anchor_paths,
    read_anchors,
    write_anchor,
)
from backend.audit.chain import CANONICAL, ZERO, append, verify
from backend.db.engine import create_engine
from backend.settings import Settings
from tests.conftest import scratch_database


@dataclass
class Chain:
    settings: Settings
    engine: Engine   # the application's role: appends and reads only
    admin: Engine    # the database's owner: the attacker here

    @property
    def anchors_file(self) -> Path:
        return anchor_paths(self.settings)[0]

    def add(self, n: int) -> list[int]:
        with self.engine.begin() as conn:
            return [append(conn, "tester", "test.write", "thing", i, {"i": i}) for i in range(n)]

    def anchor(self) -> None:
        with self.engine.connect() as conn:
            assert write_anchor(conn, self.anchors_file,
                                AnchorKey.load_or_create(anchor_paths(self.settings)[1]))

    def check(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        """`cityops audit verify`'s logic in this process: (exit code, all it printed)."""
        code = commands.run("verify", self.settings, self.engine)
        out = capsys.readouterr()
        return code, out.out + out.err

    def chain_alone_ok(self) -> bool:
        with self.engine.connect() as conn:
            return verify(conn).ok


@pytest.fixture(scope="module")
def scratch(settings: Settings) -> Iterator[tuple[Settings, Engine, Engine]]:
    with scratch_database(settings, "audit") as (scratch_settings, urls):
        app_engine = create_engine(urls.app, pool_size=4)
        admin = create_engine(urls.admin, pool_size=1)
        yield scratch_settings, app_engine, admin
        app_engine.dispose()
        admin.dispose()


@pytest.fixture()
def chain(scratch: tuple[Settings, Engine, Engine], tmp_path: Path) -> Chain:
    scratch_settings, app_engine, admin = scratch
    with admin.begin() as conn:
        conn.execute(sa.text("TRUNCATE audit_log RESTART IDENTITY"))
    return Chain(scratch_settings.model_copy(update={
        "audit_anchor_file": tmp_path / "anchors.jsonl",
        "audit_anchor_key_file": tmp_path / "anchor.key"}), app_engine, admin)


def rechain_from(admin: Engine, first: int) -> None:
    """What an owner could do: recompute every hash from row `first` on, in id order, with the
    chain's own canonical text, so that the chain checks out again."""
    with admin.begin() as conn:
        prev = conn.execute(sa.text(
            "SELECT hash FROM audit_log WHERE id < :i ORDER BY id DESC LIMIT 1"),
            {"i": first}).scalar()
        prev = bytes(prev) if prev is not None else ZERO
        for (row_id,) in conn.execute(sa.text(
                "SELECT id FROM audit_log WHERE id >= :i ORDER BY id"), {"i": first}).all():
            prev = bytes(conn.execute(sa.text(
                f"UPDATE audit_log SET prev_hash = :p, hash = sha256(:p || {CANONICAL}) "  # noqa: S608
                "WHERE id = :id RETURNING hash"), {"p": prev, "id": row_id}).scalar_one())


def test_an_untouched_chain_agrees_with_every_anchor(
        chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    chain.add(3)
    chain.anchor()
    chain.add(2)
    chain.anchor()
    chain.add(1)  # rows after the newest anchor are fine
    code, said = chain.check(capsys)
    assert code == 0, said
    assert "intact: 6 rows, agreeing with 2 anchors" in said


def test_deleting_the_newest_rows_is_caught_naming_the_anchor(
        chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    ids = chain.add(5)
    chain.anchor()                     # line 1: 5 rows up to ids[4]
    chain.add(2)
    chain.anchor()                     # line 2: 7 rows
    with chain.admin.begin() as conn:  # the owner drops the newest three rows
        conn.execute(sa.text("DELETE FROM audit_log WHERE id >= :i"), {"i": ids[3]})
    assert chain.chain_alone_ok()      # the chain by itself cannot tell
    code, said = chain.check(capsys)
    assert code == 1
    assert f"anchor at line 1 of {chain.anchors_file}" in said
    assert f"5 rows up to row {ids[4]}" in said and "deleted from its end" in said

    chain.add(4)  # and hides it under new rows: the anchored row is still missing
    code, said = chain.check(capsys)
    assert code == 1 and "anchor at line 1" in said
    assert f"its row {ids[4]} is missing" in said


def test_editing_a_row_and_rechaining_is_caught(
        chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    ids = chain.add(6)
    chain.anchor()  # line 1
    chain.add(2)
    chain.anchor()  # line 2
    with chain.admin.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE id = :i"),
                     {"i": ids[2]})
    assert not chain.chain_alone_ok()  # edited in place: the chain alone sees it
    rechain_from(chain.admin, ids[2])
    assert chain.chain_alone_ok()      # recomputed: the chain alone no longer can
    code, said = chain.check(capsys)
    assert code == 1
    assert "anchor at line 1" in said and f"row {ids[5]} now has another hash" in said


def test_a_forged_or_damaged_anchor_line_is_reported(
        chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    chain.add(4)
    chain.anchor()
    chain.anchor()
    lines = chain.anchors_file.read_text().splitlines()
    forged = json.loads(lines[1])
    forged["rows"] = 3  # e.g. to make a shorter chain look anchored
    chain.anchors_file.write_text(f"{lines[0]}\n{json.dumps(forged)}\n{{half a line\n")
    code, said = chain.check(capsys)
    assert code == 1
    assert "line 2 of" in said and "bad signature" in said
    assert "line 3 of" in said and "not a signed anchor" in said

    other_key = AnchorKey(os.urandom(32))
    with chain.engine.connect() as conn:
        write_anchor(conn, chain.anchors_file, other_key)
    reading = read_anchors(chain.anchors_file, AnchorKey.load(anchor_paths(chain.settings)[1]),
                           "whatever")
    assert reading.bad[-1][0] == 4 and "another key" in reading.bad[-1][1]


def test_the_key_is_private_created_once_and_refused_when_open(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "anchor.key"
    first = AnchorKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert AnchorKey.load_or_create(path) == first  # never replaced
    path.chmod(0o644)
    with pytest.raises(AnchorError, match="chmod 600"):
        AnchorKey.load(path)
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(AnchorError, match="CITYOPS_AUDIT_ANCHOR_KEY_FILE to a writable place"):
        AnchorKey.load_or_create(tmp_path / "a-file" / "anchor.key")


def test_anchor_lines_from_several_writers_stay_whole(chain: Chain) -> None:
    chain.add(3)
    key = AnchorKey.load_or_create(anchor_paths(chain.settings)[1])

    def writer() -> None:
        for _ in range(40):
            with chain.engine.connect() as conn:
                write_anchor(conn, chain.anchors_file, key)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with chain.engine.connect() as conn:
        database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    reading = read_anchors(chain.anchors_file, key, database)
    assert reading.bad == [] and len(reading.anchors) == 160


def test_the_server_anchors_when_the_head_moved_and_at_shutdown(
        chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    """The anchoring task as the server runs it (timer, unchanged head skipped, a forced anchor
    at shutdown), and its copy to syslog (a real UDP socket)."""
    import asyncio

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as syslog:
        syslog.bind(("127.0.0.1", 0))
        syslog.settimeout(5)
        settings = chain.settings.model_copy(update={
            "audit_anchor_interval_s": 0.05,
            "audit_anchor_syslog": f"127.0.0.1:{syslog.getsockname()[1]}"})
        chain.add(2)
        anchors = AuditAnchors(settings, chain.engine)

        async def run() -> None:
            anchors.start()
            await asyncio.sleep(0.5)   # the head moved once: one anchor, then "unchanged"
            await asyncio.to_thread(chain.add, 1)
            await asyncio.sleep(0.5)   # moved again: a second anchor
            await anchors.stop()       # and one at shutdown, moved or not

        asyncio.run(run())
        assert anchors.counts["written"] == 3 and anchors.counts["unchanged"] >= 2
        assert anchors.counts["failed"] == 0
        lines = chain.anchors_file.read_text().splitlines()
        assert [json.loads(x)["rows"] for x in lines] == [2, 3, 3]
        received = syslog.recv(4096).decode()
    assert "cityops-audit-anchor:" in received and json.loads(lines[0])["sig"] in received
    code, said = chain.check(capsys)
    assert code == 0 and "agreeing with 3 anchors" in said, said


def test_the_cityops_audit_commands(chain: Chain) -> None:
    """`cityops audit anchor` and `cityops audit verify` as an operator runs them."""
    env = {**os.environ, "CITYOPS_DATABASE_NAME": chain.settings.database_name,
           "CITYOPS_AUDIT_ANCHOR_FILE": str(chain.anchors_file),
           "CITYOPS_AUDIT_ANCHOR_KEY_FILE": str(anchor_paths(chain.settings)[1])}

    def cityops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "backend.cli", "audit", *args],
                              capture_output=True, text=True, env=env, timeout=300, check=False)

    ids = chain.add(3)
    unanchored = cityops("verify")  # nothing to check against yet: said, not hidden
    assert unanchored.returncode == 0 and "intact: 3 rows" in unanchored.stdout
    assert "no anchors file" in unanchored.stderr
    anchored = cityops("anchor")
    assert anchored.returncode == 0 and "anchored 3 rows" in anchored.stdout, anchored.stderr
    ok = cityops("verify")
    assert ok.returncode == 0 and "agreeing with 1 anchors" in ok.stdout, ok.stderr
    with chain.admin.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[-1]})
    broken = cityops("verify")
    assert broken.returncode == 1
    assert "audit log broken" in broken.stderr and "anchor at line 1" in broken.stderr
