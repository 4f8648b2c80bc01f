"""When the traffic service works: levels pushed every `publish_s`, each five-minute bucket
closed `delay_s` after it ends (late fixes still count). `tick` is blocking and
clock-injected (tests call it with any time); `run` is the loop the lifespan starts, which
does each tick in a worker thread so the event loop never waits on the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from backend.traffic.levels import BUCKET, bucket_floor
from backend.traffic.service import TrafficService

log = logging.getLogger("cityops.traffic")
MAX_CATCH_UP = 3  # buckets closed in one tick after a stall; older ones are skipped


class Cadence:
    def __init__(self, service: TrafficService, *, publish_s: float, delay_s: float,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.service = service
        self.publish_s = publish_s
        self.delay = timedelta(seconds=delay_s)
        self.now = now
        # The bucket running when the service starts saw only part of its traffic: the first
        # one closed is the next.
        self.next_start: datetime | None = None
        self.closed: list[datetime] = []  # starts of the buckets closed by the last tick

    def tick(self, now: datetime) -> None:
        if self.next_start is None:
            self.next_start = bucket_floor(now) + BUCKET
        self.service.publish_live(now)
        due_end = bucket_floor(now - self.delay)  # buckets ending at or before it are due
        behind = (due_end - self.next_start) // BUCKET
        if behind > MAX_CATCH_UP:
            log.warning("traffic: %d buckets behind, closing the last %d", behind, MAX_CATCH_UP)
            self.next_start = due_end - MAX_CATCH_UP * BUCKET
        self.closed = []
        while self.next_start + BUCKET <= due_end:
            self.service.close_bucket(self.next_start)
            self.closed.append(self.next_start)
            self.next_start += BUCKET

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.publish_s)
            try:
                await asyncio.to_thread(self.tick, self.now())
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed tick (database restart) must not stop the cadence
                log.exception("traffic tick failed")
