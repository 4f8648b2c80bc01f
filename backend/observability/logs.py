"""Logging for the server: one line per event, structured, configured once at start.

`configure_logging(settings)` (called by `cityops serve` and `demo`) puts one handler on the
root logger, writing to stderr either key=value (`CITYOPS_LOG_FORMAT=kv`, the default) or one
JSON object per line (`json`); the root level is `CITYOPS_LOG_LEVEL`, single loggers may differ
(`CITYOPS_LOG_LEVELS="cityops.access=WARNING,cityops.realtime=DEBUG"`). uvicorn's own loggers
are sent through the same handler; its access log is replaced by `cityops.access` (one line
per request with the route template, status, duration and who called, never a token).

Structured fields travel in `extra={"kv": {...}}`; ordinary `%`-style calls work unchanged. A
traceback stays on its event's line (escaped in kv, a string in JSON).
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from backend.settings import Settings

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "kv"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The event as ordered fields: time, level, logger, message, then its own fields."""
    out: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    out.update(getattr(record, "kv", None) or {})
    # Fields given as plain `extra=` keys are kept too.
    out.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
    if record.exc_info:
        out["exc"] = logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        out["exc"] = record.exc_text
    return out


_BARE = re.compile(r"[\w.:/{}<>@+,;()\[\]*#%&!?~^$|'`-]+\Z")  # needs no quotes


def _kv_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if _BARE.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)  # quoted, with \n, \" and \t escaped


class KeyValueFormatter(logging.Formatter):
    """`ts=... level=info logger=cityops.access msg=request route=/api/health status=200`"""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_kv_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, the same fields as the key=value format."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str, ensure_ascii=False)


def formatter_for(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else KeyValueFormatter()


class _Handoff(logging.handlers.QueueHandler):
    """Hands records to the writer thread: the caller (often the event loop that the hub and
    the gateway share) pays for the record, not for formatting or a slow stderr pipe."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg, record.args = record.getMessage(), None  # freeze what the args said now
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


_listener: logging.handlers.QueueListener | None = None


def _stop_listener() -> None:
    """Write what is queued and end the writer thread (at exit, or before a new one)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(_stop_listener)


def configure_logging(settings: Settings, stream: Any = None, *,
                      background: bool = False) -> logging.Handler:
    """Install the one handler on the root logger (replacing earlier ones) and the levels;
    returns the writing handler. `background` (the servers) formats and writes on a thread of
    its own, flushed at exit. Safe to call again (tests, `demo` then `serve`)."""
    global _listener
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter_for(settings.log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    _stop_listener()
    if background:
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        _listener = logging.handlers.QueueListener(records, handler)
        _listener.start()
        root.addHandler(_Handoff(records))
    else:
        root.addHandler(handler)
    for name in UVICORN_LOGGERS:  # through the root handler, in the same format
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
        uv.setLevel(logging.NOTSET)
    # The access line comes from cityops.access; uvicorn's would be a second one per request.
    logging.getLogger("uvicorn.access").disabled = True
    for name, level in settings.logger_levels().items():
        logging.getLogger(name or None).setLevel(level)
    return handler


class RateLimitedLog:
    """At most `per_minute` INFO lines a minute for a noisy kind of event (rejected input an
    attacker can produce at will); the rest are summed up in one line of the next minute. The
    counters (and /metrics) keep every event: only the log is thinned."""

    def __init__(self, logger: logging.Logger, what: str, per_minute: int = 30) -> None:
        self.logger = logger
        self.what = what  # e.g. "mqtt: rejects", in the summary line
        self.per_minute = per_minute
        self._window = float("-inf")
        self._lines = 0
        self.suppressed = 0

    def __call__(self, fmt: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._window >= 60.0:
            if self.suppressed:
                self.logger.info("%s: %d more not logged in the last minute", self.what,
                                 self.suppressed, extra={"kv": {"suppressed": self.suppressed}})
            self._window, self._lines, self.suppressed = now, 0, 0
        if self._lines < self.per_minute:
            self._lines += 1
            self.logger.info(fmt, *args)
        else:
            self.suppressed += 1
