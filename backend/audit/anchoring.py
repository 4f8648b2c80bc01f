"""The server's anchoring task: every `audit_anchor_interval_s`, when the chain's head moved,
and once at shutdown, write a signed anchor (backend.audit.anchors) and, when a syslog
destination is set, the same line to syslog."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
from collections import Counter

from sqlalchemy.engine import Engine

from backend.audit.actor import ACTOR_COUNTS
from backend.audit.anchors import Anchor, AnchorKey, anchor_paths, head_id, write_anchor
from backend.settings import Settings

log = logging.getLogger(__name__)
SYSLOG_TAG = "cityops-audit-anchor"


def syslog_logger(destination: str) -> logging.Logger:
    """A logger of its own (not in the global registry) sending to `destination`: a socket
    path such as /dev/log, or host:port over UDP."""
    if destination.startswith("/"):
        address: str | tuple[str, int] = destination
    else:
        host, _, port = destination.rpartition(":")
        address = (host, int(port)) if host else (destination, 514)
    handler = logging.handlers.SysLogHandler(
        address=address, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV)
    handler.setFormatter(logging.Formatter(f"{SYSLOG_TAG}: %(message)s"))
    logger = logging.Logger(SYSLOG_TAG, logging.INFO)
    logger.addHandler(handler)
    return logger


class AuditAnchors:
    """One process's anchor writer (app.state.audit_anchors). `counts` is read by /metrics:
    written, unchanged (head had not moved), failed; `actor_counts` counts audit rows whose
    actor argument was overridden by the authenticated caller."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.path, self.key_path = anchor_paths(settings)
        self.interval = settings.audit_anchor_interval_s
        self.engine = engine
        self.key = AnchorKey.load_or_create(self.key_path)  # fail at startup, not later
        self.syslog = syslog_logger(settings.audit_anchor_syslog) \
            if settings.audit_anchor_syslog else None
        self.counts: Counter[str] = Counter()
        self.actor_counts = ACTOR_COUNTS
        self.last: tuple[int, bytes] | None = None  # the head this process anchored last
        self._task: asyncio.Task[None] | None = None

    def anchor_now(self, *, force: bool = False) -> Anchor | None:
        """Write an anchor if the head moved since this process's last one (or `force`)."""
        try:
            with self.engine.connect() as conn:
                head = head_id(conn)
                if head is None or (head == self.last and not force):
                    self.counts["unchanged"] += 1
                    return None
                written = write_anchor(conn, self.path, self.key)
        except Exception:
            self.counts["failed"] += 1
            log.exception("audit anchor could not be written to %s", self.path)
            return None
        if written is None:
            return None
        anchor, line = written
        self.last = (anchor.last_id, bytes.fromhex(anchor.hash))
        self.counts["written"] += 1
        log.info("audit anchor written: rows=%d last_id=%d file=%s", anchor.rows,
                 anchor.last_id, self.path)
        if self.syslog is not None:
            try:
                self.syslog.info(line.decode().rstrip("\n"))
            except OSError:
                self.counts["syslog_failed"] += 1
                log.exception("audit anchor could not be sent to syslog")
        return anchor

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.to_thread(self.anchor_now)

    def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name="audit-anchors")

    async def stop(self) -> None:
        """Stop the timer and anchor the head as this process leaves it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self.anchor_now, force=True)
        for handler in self.syslog.handlers if self.syslog else []:
            handler.close()
