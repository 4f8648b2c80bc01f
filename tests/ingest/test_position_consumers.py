"""The position pipeline's consumer contract on a real PostGIS: consumers see the validated fixes
in time order while storage runs, after-commit consumers see them stored, a failing consumer
loses nothing stored and is counted, the alarm rules still store their alarms."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from backend.ingest.pipeline import PositionPipeline
from backend.ingest.position import Position
from backend.vehicles.consumers import AlarmRules
from backend.vehicles.store import PositionStore, StoreResult

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SOS = 1 << 0
WAIT_S = 10.0  # a fallback only: the events are set long before


def fix(vid: str, seconds: float, alarm: int = 0, lon: float = 117.88) -> Position:
    return Position(vehicle_id=vid, time=NOW + timedelta(seconds=seconds), lon=lon, lat=33.48,
                    speed_kmh=20.0, heading_deg=90.0, alarm_flags=alarm, source="http")


def stored_times(engine: sa.Engine, prefix: str) -> list[datetime]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT time FROM vehicle_positions WHERE vehicle_id LIKE :p ORDER BY time"),
            {"p": prefix + "%"}).scalars())


class Recorder:
    """Keeps what it was given, on which thread, and (optionally) what was stored by then."""

    def __init__(self, name: str, calls: list[str], engine: sa.Engine | None = None) -> None:
        self.name = name
        self.calls = calls
        self.engine = engine
        self.seen: list[list[Position]] = []
        self.threads: list[int] = []
        self.stored_then: list[int] = []

    def consume(self, positions: Sequence[Position]) -> None:
        self.calls.append(self.name)
        self.seen.append(list(positions))
        self.threads.append(threading.get_ident())
        if self.engine is not None:
            self.stored_then.append(len(stored_times(self.engine, positions[0].vehicle_id[:5])))


class Boom:
    name = "boom"

    def consume(self, positions: Sequence[Position]) -> None:
        raise RuntimeError("a consumer with a bug")


@pytest.fixture()
def cleanup(engine: sa.Engine) -> Iterator[None]:
    yield
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest", "vehicle_alarms"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE 'cons-%'"))


def pipeline_of(storage: Any, consumers: Sequence[Any] = (), after: Sequence[Any] = (),
                **kw: Any) -> PositionPipeline:
    return PositionPipeline(storage, consumers, after,
                            clock=lambda: NOW + timedelta(minutes=5), **kw)


def test_consumers_get_the_valid_fixes_in_time_order_and_after_commit_sees_them_stored(
    engine: sa.Engine, cleanup: None
) -> None:
    calls: list[str] = []
    first, second = Recorder("first", calls), Recorder("second", calls)
    pushes = Recorder("pushes", calls, engine)
    pipeline = pipeline_of(PositionStore(engine), [first, second], [pushes])
    no_fix = Position(vehicle_id="cons-1", time=NOW, lon=0.0, lat=0.0)
    batch = [fix("cons-1", 20), fix("cons-2", 5), fix("cons-1", 10), no_fix, fix("cons-2", 0),
             fix("cons-1", 15)]
    try:
        report = pipeline.ingest(batch)
    finally:
        pipeline.close()
    assert (report.accepted, report.rejected) == (5, [(3, "no_fix")])
    want = sorted((p for i, p in enumerate(batch) if i != 3), key=lambda p: p.time)
    assert first.seen == [want] and second.seen == [want] and pushes.seen == [want]
    assert calls == ["first", "second", "pushes"]  # the order they were listed in
    caller = threading.get_ident()
    assert first.threads[0] != caller and second.threads == first.threads  # beside storage
    assert pushes.threads == [caller] and pushes.stored_then == [5]  # after the commit


class GatedStore:
    """Storage that does not start writing until a consumer has started, and tells it so: with
    the consumers run after storage (one thread), both would wait out WAIT_S."""

    def __init__(self, store: PositionStore) -> None:
        self.store_ = store
        self.storing = threading.Event()
        self.consuming = threading.Event()
        self.saw_consumer = False

    def store(self, positions: Sequence[Position], *, now: datetime) -> StoreResult:
        self.storing.set()
        self.saw_consumer = self.consuming.wait(WAIT_S)
        return self.store_.store(positions, now=now)


class GatedConsumer:
    name = "gated"

    def __init__(self, gate: GatedStore) -> None:
        self.gate = gate
        self.saw_storage = False

    def consume(self, positions: Sequence[Position]) -> None:
        self.gate.consuming.set()
        self.saw_storage = self.gate.storing.wait(WAIT_S)


def test_consumers_run_while_storage_waits_on_the_database(
    engine: sa.Engine, cleanup: None
) -> None:
    gate = GatedStore(PositionStore(engine))
    consumer = GatedConsumer(gate)
    pipeline = pipeline_of(gate, [consumer])
    try:
        assert pipeline.ingest([fix("cons-3", s) for s in (0, 5)]).accepted == 2
    finally:
        pipeline.close()
    assert gate.saw_consumer and consumer.saw_storage


def test_without_overlap_consumers_run_after_the_commit_on_the_calling_thread(
    engine: sa.Engine, cleanup: None
) -> None:
    recorder = Recorder("late", [], engine)
    pipeline = pipeline_of(PositionStore(engine), [recorder], overlap=False)
    pipeline.ingest([fix("cons-4", s) for s in (0, 5, 10)])
    assert recorder.threads == [threading.get_ident()] and recorder.stored_then == [3]


def test_a_failing_consumer_loses_nothing_stored_is_counted_and_alarms_are_still_stored(
    engine: sa.Engine, cleanup: None, caplog: pytest.LogCaptureFixture
) -> None:
    pushed: list[tuple[str, dict[str, Any]]] = []
    after = Recorder("after", [])
    rules = AlarmRules(engine, publish=lambda ch, data: pushed.append((ch, data)))
    pipeline = pipeline_of(PositionStore(engine), [Boom(), rules], [after])
    try:
        report = pipeline.ingest([fix("cons-5", 0), fix("cons-5", 5, alarm=SOS)])
        again = pipeline.ingest([fix("cons-5", 10, alarm=SOS)])
    finally:
        pipeline.close()
    assert report.accepted == 2 and again.accepted == 1
    assert len(stored_times(engine, "cons-5")) == 3
    assert pipeline.counters["failed:boom"] == 2
    assert sum("position consumer boom failed" in r.message for r in caplog.records) == 1
    # the consumer after the failing one ran, and so did the after-commit ones
    assert [(e.kind, e.action) for e in report.alarms] == [("sos", "raised")]
    assert len(after.seen) == 2
    with engine.connect() as conn:
        kinds = conn.execute(sa.text("SELECT kind, status FROM vehicle_alarms "
                                     "WHERE vehicle_id = 'cons-5'")).all()
    assert [tuple(k) for k in kinds] == [("sos", "active")]
    assert [(ch, d["kind"]) for ch, d in pushed] == [("vehicles.alarms", "sos")]


class BrokenStore:
    def store(self, positions: Sequence[Position], *, now: datetime) -> StoreResult:
        raise sa.exc.OperationalError("INSERT", {}, Exception("the database went away"))


def test_a_storage_error_fails_the_batch_and_nothing_is_pushed() -> None:
    consumer, after = Recorder("rules", []), Recorder("pushes", [])
    pipeline = pipeline_of(BrokenStore(), [consumer], [after])
    try:
        with pytest.raises(sa.exc.OperationalError):
            pipeline.ingest([fix("cons-6", 0)])
    finally:
        pipeline.close()
    assert len(consumer.seen) == 1 and after.seen == []  # the feed is not acknowledged
    assert pipeline.counters["accepted"] == 0
