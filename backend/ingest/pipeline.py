"""The one position pipeline every feed goes through: validate -> storage beside an ordered list
of consumers -> consumers that run after the commit.

What a feed sees is a `PositionSink` (`ingest(positions) -> IngestReport`); what the rest of the
system plugs in is a `PositionConsumer` (`name`, `consume(positions)`). The pipeline knows no
slice: storage, alarm rules, traffic matching and the hub are handed to it by the assembly
(`backend.positions.build_position_pipeline`).

Per batch (``ingest``, called from a worker thread, possibly from many at once):
1. every fix is range-checked (`validate.reject_reason`); refusals are counted by source/reason;
2. the valid fixes, sorted by time, go to `storage` on the calling thread while `consumers` run
   one after another on the pipeline's own consumer thread. Storage mostly waits on PostgreSQL
   (psycopg2 releases the GIL), so the consumers' CPU work overlaps it. One consumer thread
   serves every batch in arrival order: a consumer sees each vehicle's fixes in time order
   within a batch and batches one at a time (the alarm rules' state needs no lock of its own);
3. when storage has committed and the consumers are done, `after_commit` consumers run (the
   hub's position pushes: nothing is pushed that is not stored) and the report is returned.
   The sender is acknowledged only after the commit; a storage error propagates to the feed
   (which does not acknowledge, so the fixes are resent).

A consumer that raises does not fail the batch: its storage is committed all the same, the
failure is counted (`counters["failed:<name>"]`, /metrics) and logged once until it recovers.
A consumer may return events for the sender (the alarm rules return their alarm events, which
become `IngestReport.alarms`); most return None.

Consumers run before the commit is known: when storage fails, they have seen fixes that the
feed will send again. The alarm rules treat a fix not newer than the vehicle's last as late
(no state change), and so must any consumer (the probe engine keys by vehicle and time)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Protocol

from backend.ingest.position import Position
from backend.ingest.validate import reject_reason

log = logging.getLogger("cityops.ingest")
_BY_TIME = attrgetter("time")


@dataclass
class IngestReport:
    """What a feed learns about its batch (the HTTP answer, the JT/T 808 ack, MQTT counters)."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in batch, reason)
    alarms: list[Any] = field(default_factory=list)  # events the consumers returned (alarms)


class PositionSink(Protocol):
    """What feeds call: a batch in, its report out (blocking: call it off the event loop)."""

    def ingest(self, positions: Sequence[Position]) -> IngestReport: ...

    def count_rejects(self, source: str, reasons: Sequence[str]) -> None: ...


class PositionConsumer(Protocol):
    """One more thing done with every batch: given the validated fixes sorted by time, on a
    worker thread. May return events to report to the sender (alarm rules), usually None."""

    name: str

    def consume(self, positions: Sequence[Position]) -> Sequence[Any] | None: ...


class StoreOutcome(Protocol):
    @property
    def stored(self) -> int: ...

    @property
    def duplicates(self) -> int: ...


class PositionStorage(Protocol):
    """The durable consumer: its commit is what acknowledges a batch."""

    def store(self, positions: Sequence[Position], *, now: datetime) -> StoreOutcome: ...


class PositionPipeline:
    """validate -> storage beside `consumers` -> `after_commit`; see the module docstring.

    `overlap=False` runs the consumers on the calling thread after the commit (the order
    before consumers overlapped storage; the benchmark's baseline)."""

    def __init__(
        self,
        storage: PositionStorage,
        consumers: Sequence[PositionConsumer] = (),
        after_commit: Sequence[PositionConsumer] = (),
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        overlap: bool = True,
    ) -> None:
        self.storage = storage
        self.consumers = tuple(consumers)
        self.after_commit = tuple(after_commit)
        self.clock = clock
        self.overlap = overlap
        # accepted, duplicates, rejected:<reason>, failed:<consumer>
        self.counters: Counter[str] = Counter()
        # Every refused record of every feed, by (source, reason): the pipeline's own range
        # checks and, through count_rejects, the feeds' parse errors (invalid:<field>, ...).
        self.rejects: Counter[tuple[str, str]] = Counter()
        # Stored records by (source, accepted | duplicates), for /metrics beside `rejects`.
        self.stored: Counter[tuple[str, str]] = Counter()
        self.seconds: Counter[str] = Counter()  # time spent per stage (storage, consumers)
        self._failing: set[str] = set()
        self._worker: ThreadPoolExecutor | None = None

    def ingest(self, positions: Sequence[Position]) -> IngestReport:
        now = self.clock()
        report = IngestReport(received=len(positions))
        valid: list[Position] = []
        for index, p in enumerate(positions):
            reason = reject_reason(p, now)
            if reason is None:
                valid.append(p)
            else:
                report.rejected.append((index, reason))
                self.counters[f"rejected:{reason}"] += 1
                self.rejects[(p.source, reason)] += 1
        if not valid:
            return report
        valid.sort(key=_BY_TIME)  # stable: a vehicle's fixes keep their order within a time
        pending = self._submit(valid) if self.overlap and self.consumers else None
        try:
            t = time.perf_counter()
            stored = self.storage.store(valid, now=now)
            self.seconds["storage"] += time.perf_counter() - t
        finally:
            # Even when storage failed: the consumer thread is not left working on this batch
            # while the feed resends it.
            events = pending.result() if pending is not None else None
        if events is None:
            events = self._run(self.consumers, valid)
        report.accepted, report.duplicates = stored.stored, stored.duplicates
        report.alarms = events
        self.counters["accepted"] += stored.stored
        self.counters["duplicates"] += stored.duplicates
        self._count_stored(valid, stored.stored, stored.duplicates)
        self._run(self.after_commit, valid)
        return report

    def count_rejects(self, source: str, reasons: Sequence[str]) -> None:
        """Count records a feed refused before they became positions (parse errors)."""
        for reason in reasons:
            self.rejects[(source, reason)] += 1

    def close(self) -> None:
        """Wait for the consumer thread to finish its batch and stop it."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None

    def _submit(self, valid: list[Position]) -> Future[list[Any]]:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1,
                                              thread_name_prefix="position-consumers")
        return self._worker.submit(self._run, self.consumers, valid)

    def _run(self, consumers: Sequence[PositionConsumer],
             positions: Sequence[Position]) -> list[Any]:
        events: list[Any] = []
        for consumer in consumers:
            t = time.perf_counter()
            try:
                found = consumer.consume(positions)
            except Exception:
                self.counters[f"failed:{consumer.name}"] += 1
                if consumer.name not in self._failing:  # once until it works again
                    self._failing.add(consumer.name)
                    log.exception("position consumer %s failed on %d fixes (stored all the "
                                  "same; counted as failed:%s)", consumer.name, len(positions),
                                  consumer.name)
                continue
            finally:
                self.seconds[consumer.name] += time.perf_counter() - t
            if consumer.name in self._failing:
                self._failing.discard(consumer.name)
                log.info("position consumer %s works again", consumer.name)
            if found:
                events.extend(found)
        return events

    def _count_stored(self, positions: Sequence[Position], accepted: int,
                      duplicates: int) -> None:
        # A batch comes from one feed (the store counts per batch): a mixed one is "mixed".
        source = positions[0].source
        if any(p.source != source for p in positions):
            source = "mixed"
        for outcome, n in (("accepted", accepted), ("duplicates", duplicates)):
            if n:
                self.stored[(source, outcome)] += n
