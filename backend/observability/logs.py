"""Logging for the server: one line per event, structured, configured once at start.

`configure_logging(settings)` (called by `cityops serve` and `demo`) puts one handler on the
root logger, writing to stderr either key=value (`CITYOPS_LOG_FORMAT=kv`, the default) or one
JSON object per line (`json`); the root level is `CITYOPS_LOG_LEVEL`, single loggers may differ
(`CITYOPS_LOG_LEVELS="cityops.access=WARNING,cityops.realtime=DEBUG"`). uvicorn's own loggers
are sent through the same handler; its access log is replaced by `cityops.access` (one line
per request with the route template, status, duration and who called, never a token).

Structured fields travel in `extra={"kv": {...}}`; ordinary `%`-style calls work unchanged. A
traceback stays on its event's line (escaped in kv, a string in JSON). Each kind of line is
written at most `CITYOPS_LOG_REPEATS_PER_MINUTE` times a minute (FloodFilter): rejected input
is counted on /metrics, not allowed to flood the log.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import re
import sys
from datetime import UTC, datetime
from typing import Any

from backend.settings import Settings

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# (uvicorn adds `color_message`, its message again with terminal colour codes.)
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "kv", "color_message"}


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


class FloodFilter(logging.Filter):
    """At most `per_minute` lines a minute of each kind of event (logger and message template):
    an attacker can make the server log a rejected frame, a refused login or a failed request
    as often as they can send one. The next line of that kind after a quiet minute carries
    `suppressed=<n>`; the counters on /metrics keep every event, only the log is thinned."""

    MAX_KINDS = 2048  # templates are code; an f-string message must not grow this forever

    def __init__(self, per_minute: int = 60, exempt: tuple[str, ...] = ("cityops.access",)
                 ) -> None:
        super().__init__()
        self.per_minute = per_minute
        self.exempt = exempt  # one line per request is the access log's point
        self._kinds: dict[tuple[str, str], list[float]] = {}  # [window start, lines, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in self.exempt:
            return True
        key = (record.name, record.msg if isinstance(record.msg, str) else "")
        window = self._kinds.get(key)
        if window is None or record.created - window[0] >= 60.0:
            if len(self._kinds) >= self.MAX_KINDS:
                self._kinds.clear()
            if window is not None and window[2]:
                record.kv = {**(getattr(record, "kv", None) or {}),
                             "suppressed": int(window[2])}
            self._kinds[key] = [record.created, 1, 0]
            return True
        if window[1] < self.per_minute:
            window[1] += 1
            return True
        window[2] += 1
        return False


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
    flood = FloodFilter(settings.log_repeats_per_minute)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    _stop_listener()
    if background:
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        _listener = logging.handlers.QueueListener(records, handler)
        _listener.start()
        handoff = _Handoff(records)
        handoff.addFilter(flood)  # on the caller's side: a dropped line costs nothing more
        root.addHandler(handoff)
    else:
        handler.addFilter(flood)
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
