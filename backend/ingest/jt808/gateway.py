"""The JT/T 808 TCP gateway: terminals connect, register, authenticate and report positions.

One task per connection; the sink is awaited before the next read, so a slow pipeline slows the
terminal down through TCP instead of growing a buffer. A malformed frame is answered (when its
header can be trusted), counted and skipped; only a connection that sends nothing but garbage or
stays silent past the idle timeout is closed, never the gateway or another connection. An error
while handling one frame (a bug, the database away) is counted as `internal_error` and answered
"failure"; the link stays up.

Trust (``trust.py``): only terminals in the fleet register may register; each registration gets
a fresh random code; one connection speaks for one terminal, and its positions are stored under
the register's vehicle id. Live sessions are re-checked every ``recheck_s``, so a revoked or
re-registered code ends the connection that used it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from backend.ingest.position import Position

from . import messages as m
from .codec import Frame, FrameError, FrameReader, Header, decode_frame
from .convert import to_position
from .trust import REGISTER_OK, TerminalSession, TerminalTrust, phone_key

log = logging.getLogger(__name__)

_MESSAGE_NAMES = {
    m.TERMINAL_RESPONSE: "terminal_response", m.REGISTER: "register",
    m.AUTHENTICATE: "authenticate", m.HEARTBEAT: "heartbeat", m.LOCATION: "location",
    m.BATCH: "batch",
}


class SinkReport(Protocol):
    """What the sink answers (the pipeline's IngestReport): fixes it refused, (index, reason)."""

    rejected: Sequence[tuple[int, str]]


Sink = Callable[[list[Position]], Awaitable[SinkReport | None]]


@dataclass
class GatewayStats:
    """Every frame candidate the gateway reads is counted once in `frames` and ends up in
    exactly one of `accepted` or `rejected[reason]`; `messages` counts decoded frames by kind.
    `refused_registrations` counts 0x0100 refusals by why (also in rejected["register_refused"])."""

    connections: int = 0          # accepted since start
    open_connections: int = 0
    frames: int = 0               # every frame candidate read (including malformed ones)
    accepted: int = 0             # frames handled with a success answer
    positions: int = 0            # handed to the sink and stored
    rejected: Counter[str] = field(default_factory=Counter)  # frames refused, by reason
    refused_registrations: Counter[str] = field(default_factory=Counter)  # by reason
    messages: Counter[str] = field(default_factory=Counter)  # decoded frames by message kind
    closed: Counter[str] = field(default_factory=Counter)    # why connections were closed


@dataclass(eq=False)  # hashed by identity: kept in a set of live connections
class _Conn:
    peer: str
    writer: asyncio.StreamWriter
    phone: str | None = None      # phone_key() of the terminal it speaks for, once known
    session: TerminalSession | None = None
    revoked: bool = False
    serial: int = 0
    auth_attempts: int = 0        # 0x0100 and 0x0102 frames handled (each a database look-up)
    bad_streak: int = 0           # bad frames since the last good one
    garbage_mark: int = 0         # reader.garbage_bytes at the last good frame

    def next_serial(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial


class _Refused(Exception):
    """A well-formed frame the gateway refuses: counted under `reason`, answered `result`."""

    def __init__(self, reason: str, result: int = m.RESULT_FAIL, reply: bytes | None = None
                 ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result
        self.reply = reply  # an answer other than 0x8001 (a refused 0x8100)


class Jt808Gateway:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7808,
        *,
        sink: Sink,
        trust: TerminalTrust,
        idle_timeout: float = 180.0,
        max_bad_frames: int = 32,
        max_garbage_bytes: int = 16384,
        read_size: int = 4096,
        recheck_s: float = 5.0,
        max_auth_attempts: int = 16,
        max_connections: int = 10_000,
    ) -> None:
        self.host = host
        self.port = port
        self.sink = sink
        self.trust = trust
        self.idle_timeout = idle_timeout
        self.max_bad_frames = max_bad_frames
        self.max_garbage_bytes = max_garbage_bytes
        self.read_size = read_size
        self.recheck_s = recheck_s
        # Bounds on what an unauthenticated client can make the gateway do: database look-ups
        # (register and authenticate) per connection, and open connections.
        self.max_auth_attempts = max_auth_attempts
        self.max_connections = max_connections
        self.stats = GatewayStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._conns: set[_Conn] = set()
        self._recheck: asyncio.Task[None] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # the real port when 0 was asked
        if self.recheck_s > 0:
            self._recheck = asyncio.create_task(self._recheck_loop(), name="jt808-recheck")
        log.info("jt808 gateway listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            await asyncio.gather(self._recheck, return_exceptions=True)
            self._recheck = None
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

    # ---- revocation reaches live connections --------------------------------------------------

    async def recheck(self) -> int:
        """Close every connection whose session is no longer current (revoked, re-registered
        elsewhere, vehicle deactivated). Returns how many were closed."""
        live = [c for c in self._conns if c.session is not None and not c.revoked]
        if not live:
            return 0
        valid = await asyncio.to_thread(self.trust.still_valid, {c.session for c in live})
        ended = [c for c in live if c.session not in valid]
        for c in ended:
            c.revoked = True
            c.writer.transport.abort()  # the handler's read ends at once
        return len(ended)

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self.recheck_s)
            try:
                await self.recheck()
            except Exception:  # the database away: keep the sessions, try again next time
                log.exception("jt808: could not re-check terminal sessions")

    # ---- one connection ----------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.connections += 1
        if self.stats.open_connections >= self.max_connections:
            self.stats.closed["over_capacity"] += 1
            self._tasks.discard(task)
            writer.transport.abort()
            return
        self.stats.open_connections += 1
        conn = _Conn(peer=_peer(writer.get_extra_info("peername")), writer=writer)
        self._conns.add(conn)
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
                    n = frames.oversized - oversized
                    self.stats.frames += n
                    self.stats.rejected["oversized"] += n
                    conn.bad_streak += n
                await writer.drain()
                if (conn.bad_streak > self.max_bad_frames
                        or frames.garbage_bytes - conn.garbage_mark > self.max_garbage_bytes):
                    why = "garbage"
                    break
        except (ConnectionError, OSError):
            why = "reset"
        except asyncio.CancelledError:
            why = "shutdown"
        except Exception:  # a bug outside one frame's handling: counted and logged, not silent
            why = "error"
            log.exception("jt808 %s: connection handler failed", conn.peer)
        finally:
            if conn.revoked:
                why = "revoked"
            self.stats.closed[why] += 1
            self.stats.open_connections -= 1
            self._tasks.discard(task)
            self._conns.discard(conn)
            log.debug("jt808 %s closed (%s)", conn.peer, why)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _on_frame(self, conn: _Conn, raw: bytes) -> tuple[bytes | None, bool]:
        """Returns (reply frame or None, whether the frame was well formed). Every frame is
        counted once: accepted, or rejected under one reason."""
        self.stats.frames += 1
        header: Header | None = None
        try:
            frame = decode_frame(raw)
            header = frame.header
            self.stats.messages[_MESSAGE_NAMES.get(header.msg_id, "other")] += 1
            reply = await self._dispatch(conn, frame)
        except FrameError as exc:
            self.stats.rejected[exc.reason] += 1
            log.debug("jt808 %s rejected frame: %s", conn.peer, exc.reason)
            # An unsupported but well-formed message is not garbage: it must not close the link.
            ok = exc.result == m.RESULT_UNSUPPORTED
            if exc.header is None:
                return None, ok
            return self._general(conn, exc.header, exc.result), ok
        except _Refused as exc:
            self.stats.rejected[exc.reason] += 1
            assert header is not None
            return exc.reply or self._general(conn, header, exc.result), False
        except Exception:
            self.stats.rejected["internal_error"] += 1
            log.exception("jt808 %s: handling a frame failed", conn.peer)
            if header is None:
                return None, False
            return self._general(conn, header, m.RESULT_FAIL), False
        self.stats.accepted += 1
        return reply, True

    def _speaks_for(self, conn: _Conn, h: Header) -> None:
        """One connection, one terminal: once it has registered or authenticated as a phone,
        a frame for any other phone is refused."""
        if conn.phone is not None and conn.phone != phone_key(h.phone):
            raise _Refused("wrong_terminal")

    async def _dispatch(self, conn: _Conn, frame: Frame) -> bytes | None:
        h, body = frame.header, frame.body
        if h.msg_id == m.TERMINAL_RESPONSE:
            return None  # a terminal's answer to one of our commands; nothing to answer
        if h.msg_id not in _MESSAGE_NAMES:
            raise FrameError("unsupported_message", h, result=m.RESULT_UNSUPPORTED)
        self._speaks_for(conn, h)
        if h.msg_id in (m.REGISTER, m.AUTHENTICATE):
            conn.auth_attempts += 1
            if conn.auth_attempts > self.max_auth_attempts:
                raise _Refused("too_many_attempts")
        if h.msg_id == m.REGISTER:
            return await self._register(conn, h, body)
        if h.msg_id == m.AUTHENTICATE:
            code = m.decode_authenticate(h, body).code.encode()
            session = await asyncio.to_thread(self.trust.authenticate, h.phone, code)
            if session is None:
                raise _Refused("auth_failed")
            conn.phone, conn.session = session.phone, session
            return self._general(conn, h, m.RESULT_OK)
        if h.msg_id == m.HEARTBEAT:
            return self._general(conn, h, m.RESULT_OK)
        if h.msg_id == m.LOCATION:
            locations = [m.decode_location(body, h)]
        else:
            locations = m.decode_batch(h, body).locations
        if conn.session is None:
            raise _Refused("not_authenticated")
        now = datetime.now(UTC)
        positions = [to_position(conn.session.vehicle_id, loc, now) for loc in locations]
        try:
            report = await self.sink(positions)
        except Exception:
            # The terminal keeps the fixes and resends them when told "fail".
            log.exception("jt808 sink failed for %d positions", len(positions))
            raise _Refused("sink_error") from None
        refused = len(report.rejected) if report is not None else 0
        self.stats.positions += len(positions) - refused
        if refused:
            # Fixes the pipeline refuses (bad values, time, place) would be refused again:
            # "message error", so the terminal does not resend them; the others are stored.
            raise _Refused("fix_rejected", m.RESULT_BAD_MESSAGE)
        return self._general(conn, h, m.RESULT_OK)

    async def _register(self, conn: _Conn, h: Header, body: bytes) -> bytes:
        reg = m.decode_register(h, body)
        outcome = await asyncio.to_thread(self.trust.register, h.phone, reg, conn.peer)
        if outcome.result != REGISTER_OK:
            self.stats.refused_registrations[outcome.reason] += 1
            # A known terminal refused is a misconfiguration an operator should see; unknown
            # phones are noise or probing, counted but not logged at INFO (no log flood).
            level = logging.DEBUG if outcome.reason.startswith("unknown") else logging.INFO
            log.log(level, "jt808 %s: registration of %s refused (%s)", conn.peer, h.phone,
                    outcome.reason)
            # Answered 0x8100 with the standard's result, and no code.
            raise _Refused("register_refused", reply=m.encode_register_response(
                h.phone, conn.next_serial(), h.serial, outcome.result, version=h.version))
        conn.phone = phone_key(h.phone)
        return m.encode_register_response(h.phone, conn.next_serial(), h.serial, REGISTER_OK,
                                          outcome.auth_code or "", version=h.version)

    def _general(self, conn: _Conn, h: Header, result: int) -> bytes:
        return m.encode_general_response(
            h.phone, conn.next_serial(), h.serial, h.msg_id, result, version=h.version
        )


def _peer(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)[:100]
