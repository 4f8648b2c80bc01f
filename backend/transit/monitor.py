"""The bunching monitor: every `interval_s` it reads the latest fix of every vehicle registered
on a line, runs the line operations per line and records `bunching` alarms (raised on the
follower, cleared with hysteresis) in the same store and on the same channel
(`vehicles.alarms`) as the alarm rules.

Its state (which followers are flagged, each bus's last direction) lives in memory; the flags
are re-read from the active stored alarms on the first tick, so a restart neither duplicates
an alarm nor leaves one open for ever. `tick(now)` is the whole job and can be called directly
(tests do); the timer only calls it off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from backend.realtime.hub import Hub
from backend.realtime.messages import ALARMS
from backend.settings import Settings
from backend.transit.operations import (
    Bunched,
    Direction,
    LineOperations,
    OperationsParams,
    line_operations,
    step_bunching,
)
from backend.transit.service import state_from_alarms
from backend.vehicles.service import (
    AlarmEvent,
    FleetDirectory,
    StoredAlarm,
    alarm_event,
    latest_fixes,
    record_events,
)

log = logging.getLogger("cityops.transit")
Publisher = Callable[[str, dict[str, Any]], object]  # thread-safe hub publish(channel, data)


class BunchingMonitor:
    def __init__(
        self,
        engine: sa.Engine,
        fleet: FleetDirectory,
        *,
        publish: Publisher | None = None,
        params: OperationsParams = OperationsParams(),
        interval_s: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.fleet = fleet
        self.publish = publish
        self.params = params
        self.interval_s = interval_s
        self.clock = clock
        self.ticks = 0
        self._state: dict[str, Bunched] | None = None  # None until read from stored alarms
        self._directions: dict[str, Direction] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def flagged(self) -> dict[str, Bunched]:
        return dict(self._state or {})

    def tick(self, now: datetime | None = None) -> list[tuple[AlarmEvent, StoredAlarm]]:
        """One pass over every line; returns the alarms it opened or closed (also pushed)."""
        now = now or self.clock()
        with self._lock:
            with self.engine.connect() as conn:
                if self._state is None:
                    self._state = state_from_alarms(conn, self.fleet)
                by_line: dict[int, list[str]] = {}
                for vid, line_id in conn.execute(sa.text(
                    "SELECT vehicle_id, line_id FROM vehicles "
                    "WHERE active AND line_id IS NOT NULL ORDER BY vehicle_id"
                )):
                    by_line.setdefault(line_id, []).append(vid)
                latest, previous = latest_fixes(conn, [v for vs in by_line.values() for v in vs])
            state = dict(self._state)
            events: list[AlarmEvent] = []
            directions: dict[str, Direction] = {}
            for line_id in sorted(set(by_line) | {b.line_id for b in state.values()}):
                line = self.fleet.line(line_id)
                if line is None:  # the line is gone: its flags clear as not measured
                    ops = LineOperations(line_id, "", 0.0, (), ())
                else:
                    fixes = [latest[v] for v in by_line.get(line_id, ()) if v in latest]
                    ops = line_operations(line, fixes, previous, now=now,
                                          directions=self._directions, params=self.params)
                directions.update({v.vehicle_id: v.direction for v in ops.vehicles
                                   if v.direction is not None})
                state, found = step_bunching(state, ops, self.params)
                events += found
            changed: list[tuple[AlarmEvent, StoredAlarm]] = []
            if events:
                with self.engine.begin() as conn:
                    changed = [(e, a) for e, a in record_events(conn, events) if a is not None]
            self._state = state
            self._directions = directions
            self.ticks += 1
        if self.publish is not None:
            for e, stored in changed:
                self.publish(ALARMS, alarm_event(e.action, stored, e.time))
        return changed

    # The timer ---------------------------------------------------------------------------

    def start(self) -> None:
        """Tick every interval_s on the running loop (0 or less: never; call tick yourself)."""
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="transit-bunching-monitor")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # a failed pass (database restarting) is retried next interval
                log.exception("bunching monitor: tick failed")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        await asyncio.to_thread(self._wait_idle)  # a tick already in its thread finishes

    def _wait_idle(self) -> None:
        with self._lock:
            pass


def start_monitor(settings: Settings, engine: sa.Engine, fleet: FleetDirectory,
                  hub: Hub) -> BunchingMonitor:
    """The lifespan's monitor: pushes on the hub, ticks every transit_monitor_interval_s."""
    monitor = BunchingMonitor(
        engine, fleet, publish=hub.publish_threadsafe,
        params=OperationsParams(offline_after_s=settings.vehicle_offline_after_s),
        interval_s=settings.transit_monitor_interval_s)
    monitor.start()
    return monitor
