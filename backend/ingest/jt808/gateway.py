"""The JT/T 808 TCP gateway: terminals connect, register, authenticate and report positions.

One task per connection; the sink is awaited before the next read, so a slow pipeline slows the
terminal down through TCP instead of growing a buffer. A malformed frame is answered (when its
header can be trusted), counted and skipped; only a connection that sends nothing but garbage or
stays silent past the idle timeout is closed, never the gateway or another connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from backend.vehicles.position import Position

from . import messages as m
from .codec import Frame, FrameError, FrameReader, Header, decode_frame
from .convert import to_position

log = logging.getLogger(__name__)

Sink = Callable[[list[Position]], Awaitable[None]]


class AuthCodes(Protocol):
    def code_for(self, phone: str) -> str: ...
    def check(self, phone: str, code: str) -> bool: ...


class HmacAuth:
    """Auth code = HMAC-SHA256(secret, phone), truncated: deterministic, so a terminal that
    registered before a restart can still authenticate, and no table of codes is kept."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def code_for(self, phone: str) -> str:
        return hmac.new(self._secret, phone.encode(), hashlib.sha256).hexdigest()[:16]

    def check(self, phone: str, code: str) -> bool:
        return hmac.compare_digest(self.code_for(phone), code)


@dataclass
class GatewayStats:
    connections: int = 0          # accepted since start
    open_connections: int = 0
    frames: int = 0               # decoded and handled
    positions: int = 0            # handed to the sink
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    closed: Counter[str] = field(default_factory=Counter)    # why connections were closed


@dataclass
class _Conn:
    peer: str
    authenticated: set[str] = field(default_factory=set)
    serial: int = 0
    bad_streak: int = 0           # bad frames since the last good one
    garbage_mark: int = 0         # reader.garbage_bytes at the last good frame

    def next_serial(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial


class Jt808Gateway:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7808,
        *,
        sink: Sink,
        auth: AuthCodes | None = None,
        require_auth: bool = True,
        idle_timeout: float = 180.0,
        max_bad_frames: int = 32,
        max_garbage_bytes: int = 16384,
        read_size: int = 4096,
    ) -> None:
        self.host = host
        self.port = port
        self.sink = sink
        self.auth: AuthCodes = auth or HmacAuth(b"cityops-dev-jt808")
        self.require_auth = require_auth
        self.idle_timeout = idle_timeout
        self.max_bad_frames = max_bad_frames
        self.max_garbage_bytes = max_garbage_bytes
        self.read_size = read_size
        self.stats = GatewayStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # the real port when 0 was asked
        log.info("jt808 gateway listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    @property
    def listening(self) -> bool:
        """Whether terminals can connect now (readiness)."""
        return self._server is not None and self._server.is_serving()

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.stop()

    async def __aenter__(self) -> Jt808Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- one connection ----------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.connections += 1
        self.stats.open_connections += 1
        conn = _Conn(peer=str(writer.get_extra_info("peername")))
        frames = FrameReader()
        loop = asyncio.get_running_loop()
        last_good = loop.time()
        why = "eof"
        try:
            while True:
                # Only valid frames keep a connection alive, not a trickle of garbage.
                remaining = self.idle_timeout - (loop.time() - last_good)
                try:
                    data = await asyncio.wait_for(reader.read(self.read_size), max(remaining, 0))
                except TimeoutError:
                    why = "idle"
                    break
                if not data:
                    break
                oversized = frames.oversized
                for raw in frames.feed(data):
                    reply, ok = await self._on_frame(conn, raw)
                    if reply:
                        writer.write(reply)
                    if ok:
                        last_good = loop.time()
                        conn.bad_streak = 0
                        conn.garbage_mark = frames.garbage_bytes
                    else:
                        conn.bad_streak += 1
                if frames.oversized > oversized:
                    self.stats.rejected["oversized"] += frames.oversized - oversized
                    conn.bad_streak += frames.oversized - oversized
                await writer.drain()
                if (conn.bad_streak > self.max_bad_frames
                        or frames.garbage_bytes - conn.garbage_mark > self.max_garbage_bytes):
                    why = "garbage"
                    break
        except (ConnectionError, OSError):
            why = "reset"
        except asyncio.CancelledError:
            why = "shutdown"
        finally:
            self.stats.closed[why] += 1
            self.stats.open_connections -= 1
            self._tasks.discard(task)
            log.debug("jt808 %s closed (%s)", conn.peer, why)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _on_frame(self, conn: _Conn, raw: bytes) -> tuple[bytes | None, bool]:
        """Returns (reply frame or None, whether the frame was well formed)."""
        try:
            frame = decode_frame(raw)
            reply = await self._dispatch(conn, frame)
        except FrameError as exc:
            self.stats.rejected[exc.reason] += 1
            log.debug("jt808 %s rejected frame: %s", conn.peer, exc.reason)
            # An unsupported but well-formed message is not garbage: it must not close the link.
            ok = exc.result == m.RESULT_UNSUPPORTED
            if exc.header is None:
                return None, ok
            return self._general(conn, exc.header, exc.result), ok
        self.stats.frames += 1
        return reply, True

    async def _dispatch(self, conn: _Conn, frame: Frame) -> bytes | None:
        h, body = frame.header, frame.body
        if h.msg_id == m.REGISTER:
            m.decode_register(h, body)  # validates the body; terminal details are not kept yet
            return m.encode_register_response(
                h.phone, conn.next_serial(), h.serial, m.RESULT_OK, self.auth.code_for(h.phone),
                version=h.version,
            )
        if h.msg_id == m.AUTHENTICATE:
            ok = self.auth.check(h.phone, m.decode_authenticate(h, body).code)
            if ok:
                conn.authenticated.add(h.phone)
            else:
                self.stats.rejected["auth_failed"] += 1
            return self._general(conn, h, m.RESULT_OK if ok else m.RESULT_FAIL)
        if h.msg_id == m.HEARTBEAT:
            return self._general(conn, h, m.RESULT_OK)
        if h.msg_id == m.TERMINAL_RESPONSE:
            return None  # a terminal's answer to one of our commands; nothing to answer
        if h.msg_id in (m.LOCATION, m.BATCH):
            if h.msg_id == m.LOCATION:
                locations = [m.decode_location(body, h)]
            else:
                locations = m.decode_batch(h, body).locations
            if self.require_auth and h.phone not in conn.authenticated:
                self.stats.rejected["not_authenticated"] += 1
                return self._general(conn, h, m.RESULT_FAIL)
            now = datetime.now(UTC)
            positions = [to_position(h.phone, loc, now) for loc in locations]
            try:
                await self.sink(positions)
            except Exception:
                # The terminal keeps the fixes and resends them when told "fail".
                log.exception("jt808 sink failed for %d positions", len(positions))
                self.stats.rejected["sink_error"] += 1
                return self._general(conn, h, m.RESULT_FAIL)
            self.stats.positions += len(positions)
            return self._general(conn, h, m.RESULT_OK)
        raise FrameError("unsupported_message", h, result=m.RESULT_UNSUPPORTED)

    def _general(self, conn: _Conn, h: Header, result: int) -> bytes:
        return m.encode_general_response(
            h.phone, conn.next_serial(), h.serial, h.msg_id, result, version=h.version
        )
