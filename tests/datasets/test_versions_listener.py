"""The version listener hears PostgreSQL's notice when a dataset's current version moves (the
trigger of migration 0022), coalesces a burst, calls only the callbacks of the datasets that
moved, and after a lost connection calls every callback again (a notice may have been missed)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from backend.datasets.store import Row, write_version
from backend.datasets.versions_listener import VersionListener

WATCHED = ("test_listen_a", "test_listen_b")
POINT = "0101000020E6100000295C8FC2F5785D40E17A14AE47BD4040"


@pytest.fixture()
def datasets(engine: sa.Engine) -> Iterator[tuple[str, ...]]:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES ('TLISTEN', '测试部门')"
                             " ON CONFLICT DO NOTHING"))
        for i, ds in enumerate(WATCHED):
            conn.execute(sa.text(
                "INSERT INTO datasets (id, resource_code, name, department_code, share_type, "
                "update_cycle, storage, key_field) VALUES (:id, :code, '测试数据', 'TLISTEN', "
                "'unconditional', 'daily', 'rows', 'k')"), {"id": ds, "code": f"TEST/LISTEN/{i}"})
    yield WATCHED
    with engine.begin() as conn:
        for ds in WATCHED:
            conn.execute(sa.text("DELETE FROM dataset_rows WHERE dataset_id = :d"), {"d": ds})
            conn.execute(sa.text("UPDATE datasets SET current_version_id = NULL WHERE id = :d"),
                         {"d": ds})
            conn.execute(sa.text("DELETE FROM dataset_versions WHERE dataset_id = :d"),
                         {"d": ds})
            conn.execute(sa.text("DELETE FROM datasets WHERE id = :d"), {"d": ds})


def _write(engine: sa.Engine, dataset: str, value: int) -> None:
    with engine.begin() as conn:
        outcome = write_version(conn, dataset_id=dataset, rows=[Row("k1", {"k": "k1", "v": value},
                                                                    POINT)],
                                arrival="file", actor="tester")
    assert outcome.status == "accepted"


def _dsn(engine: sa.Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_versions_are_heard_coalesced_and_routed(engine: sa.Engine,
                                                 datasets: tuple[str, ...]) -> None:
    a, b = datasets

    async def scenario() -> tuple[list[frozenset[str]], list[frozenset[str]], int]:
        heard_a: list[frozenset[str]] = []
        heard_both: list[frozenset[str]] = []
        listener = VersionListener(_dsn(engine), debounce_s=0.3)

        async def on_a(moved: frozenset[str]) -> None:
            heard_a.append(moved)

        async def on_both(moved: frozenset[str]) -> None:
            heard_both.append(moved)

        listener.on([a], on_a)
        listener.on([a, b], on_both)
        await listener.start()
        loop = asyncio.get_running_loop()
        for _ in range(50):  # until it listens: a first write before that would be missed
            if listener._conn is not None:
                break
            await asyncio.sleep(0.05)
        # two writes of b in one burst: one call with b; a's callback is not called
        await loop.run_in_executor(None, _write, engine, b, 1)
        await loop.run_in_executor(None, _write, engine, b, 2)
        for _ in range(100):
            if heard_both:
                break
            await asyncio.sleep(0.05)
        first = list(heard_both)
        await loop.run_in_executor(None, _write, engine, a, 3)
        for _ in range(100):
            if heard_a:
                break
            await asyncio.sleep(0.05)
        notices = listener.notices
        await listener.stop()
        return heard_a, first + heard_both[len(first):], notices

    heard_a, heard_both, notices = asyncio.run(scenario())
    assert heard_both[0] == frozenset({b})  # coalesced: one call for the burst
    assert heard_a == [frozenset({a})]
    assert heard_both[-1] == frozenset({a})
    assert notices >= 2


def test_a_lost_connection_is_reopened_and_every_callback_called(
        engine: sa.Engine, admin_engine: sa.Engine, datasets: tuple[str, ...]) -> None:
    a, b = datasets

    async def scenario() -> list[frozenset[str]]:
        heard: list[frozenset[str]] = []
        listener = VersionListener(_dsn(engine), debounce_s=0.05)

        async def on_both(moved: frozenset[str]) -> None:
            heard.append(moved)

        listener.on([a, b], on_both)
        await listener.start()
        for _ in range(50):
            if listener._conn is not None:
                break
            await asyncio.sleep(0.05)
        with admin_engine.begin() as conn:  # the server drops the listening connection
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = 'cityops-version-listener'"))
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.1)
        await listener.stop()
        return heard

    heard = asyncio.run(scenario())
    assert heard and heard[0] == frozenset({a, b})
