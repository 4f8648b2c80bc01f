"""The GB/T 28181 signalling endpoint: SIP over UDP and TCP on one port.

REGISTER is challenged (401 + digest), then answered 200 with the standard's Date (its time
sync) and the granted Expires; the platform then asks the device for its Catalog. MESSAGE
bodies (Keepalive, Catalog response, Alarm) are answered 200 and then handed to the sink, and
only from a device registered from that same address. Malformed input is answered 400 when
a reply can be addressed, dropped otherwise, always counted; nothing a peer sends stops the
listener. Bounds: message size, UDP messages in flight, TCP connections, bad messages and idle
time per connection. Blocking work is the sink's to put in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from . import codec, digest, manscdp
from .codec import SipError, SipMessage
from .sink import DeviceSink, Registration, Transport

log = logging.getLogger(__name__)

ALLOW = "REGISTER, MESSAGE, OPTIONS, ACK"
OTHER_METHODS = {"INVITE", "BYE", "CANCEL", "SUBSCRIBE", "NOTIFY", "INFO", "UPDATE", "PRACK",
                 "REFER", "PUBLISH"}  # SIP methods this endpoint knows and does not allow
MIN_EXPIRES, MAX_EXPIRES, DEFAULT_EXPIRES = 60, 86400, 3600


@dataclass
class SipStats:
    """Every message read is counted once in `messages` and, when refused, in `rejected`."""

    datagrams: int = 0
    connections: int = 0
    open_connections: int = 0
    messages: int = 0
    requests: Counter[str] = field(default_factory=Counter)     # by method
    responses_sent: Counter[str] = field(default_factory=Counter)  # by status code
    responses_received: int = 0
    challenges: int = 0
    registrations: int = 0
    unregistrations: int = 0
    keepalives: int = 0
    catalog_items: int = 0
    alarms: int = 0
    rejected: Counter[str] = field(default_factory=Counter)    # by reason
    closed: Counter[str] = field(default_factory=Counter)      # TCP connections, by why


@dataclass(eq=False)
class _Peer:
    transport: Transport
    addr: tuple[str, int]
    writer: asyncio.StreamWriter | None = None

    @property
    def text(self) -> str:
        return f"{self.addr[0]}:{self.addr[1]}"


@dataclass
class _Device:
    peer: _Peer
    expires_at: float   # time.monotonic()


class _Refused(Exception):
    def __init__(self, reason: str, status: int, phrase: str,
                 extra: list[tuple[str, str]] | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.phrase, self.extra = reason, status, phrase, extra


class SipListener:
    def __init__(self, host: str = "127.0.0.1", port: int = 5060, *, sink: DeviceSink,
                 server_id: str, realm: str, password: str | None, max_message_bytes: int = 65536,
                 idle_timeout: float = 300.0, max_connections: int = 4096,
                 max_inflight: int = 256, max_bad_messages: int = 16, nonce_ttl_s: float = 300.0
                 ) -> None:
        self.host, self.port, self.sink = host, port, sink
        self.server_id, self.realm, self._password = server_id, realm, password
        self.max_message_bytes = max_message_bytes
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.max_inflight = max_inflight
        self.max_bad_messages = max_bad_messages
        self.nonces = digest.Nonces(nonce_ttl_s)
        self.stats = SipStats()
        self._devices: dict[str, _Device] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()       # TCP connections
        self._udp_tasks: set[asyncio.Task[bool]] = set()   # UDP messages being handled
        self._sn = 0

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(5):  # port 0: TCP picks one, UDP must get the same (rarely taken)
            self._server = await asyncio.start_server(self._on_connection, self.host, self.port)
            port = self._server.sockets[0].getsockname()[1]
            try:
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self), local_addr=(self.host, port))
            except OSError:
                self._server.close()
                if self.port:
                    raise
                continue
            self.port = port
            log.info("gb28181 SIP listening on %s:%d (udp, tcp)", self.host, self.port)
            return
        raise OSError("no port free for both UDP and TCP")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._server is not None:
            self._server.close()
        tasks = [*self._tasks, *self._udp_tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    @property
    def listening(self) -> bool:
        return self._udp is not None and self._server is not None and self._server.is_serving()

    def registered(self, device_id: str) -> bool:
        device = self._devices.get(device_id)
        return device is not None and device.expires_at > time.monotonic()

    # ---- transports --------------------------------------------------------------------------

    def _on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stats.datagrams += 1
        if len(data) > self.max_message_bytes:
            self.stats.messages += 1
            self.stats.rejected["oversized"] += 1
            return
        if len(self._udp_tasks) >= self.max_inflight:  # a flood waits on the sink: shed it
            self.stats.messages += 1
            self.stats.rejected["busy"] += 1
            return
        task = asyncio.create_task(self._on_message(data, _Peer("udp", addr[:2]), False))
        self._udp_tasks.add(task)
        task.add_done_callback(self._udp_tasks.discard)

    async def _on_connection(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.stats.connections += 1
        if self.stats.open_connections >= self.max_connections:
            self.stats.closed["over_capacity"] += 1
            writer.transport.abort()
            return
        self._tasks.add(task)
        self.stats.open_connections += 1
        addr = writer.get_extra_info("peername") or ("?", 0)
        peer = _Peer("tcp", (str(addr[0]), int(addr[1])), writer)
        framer = codec.StreamFramer(self.max_message_bytes)
        why, bad = "eof", 0
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(4096), self.idle_timeout)
                except TimeoutError:
                    why = "idle"
                    break
                if not data:
                    break
                try:
                    frames = framer.feed(data)
                except SipError as exc:  # the stream cannot be resynchronised
                    self.stats.messages += 1
                    self.stats.rejected[exc.reason] += 1
                    why = "garbage"
                    break
                for raw in frames:
                    bad = 0 if await self._on_message(raw, peer, True) else bad + 1
                await writer.drain()
                if bad > self.max_bad_messages:
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
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _send(self, peer: _Peer, msg: SipMessage) -> None:
        data = msg.encode()
        if msg.status is not None:
            self.stats.responses_sent[str(msg.status)] += 1
        if peer.transport == "udp":
            if self._udp is not None:
                self._udp.sendto(data, peer.addr)
        elif peer.writer is not None and not peer.writer.is_closing():
            peer.writer.write(data)

    # ---- one message -------------------------------------------------------------------------

    async def _on_message(self, raw: bytes, peer: _Peer, stream: bool) -> bool:
        """Handle one message; True when it was well formed and accepted."""
        self.stats.messages += 1
        try:
            msg = codec.parse(raw, max_bytes=self.max_message_bytes, stream=stream)
        except SipError as exc:
            self.stats.rejected[exc.reason] += 1
            if exc.request is not None:
                self._send(peer, codec.response(exc.request, 400, f"Bad Request ({exc.reason})"))
            return False
        if not msg.is_request:
            self.stats.responses_received += 1  # a device's answer to our Catalog query
            return True
        method = msg.method or ""
        self.stats.requests[method if method in OTHER_METHODS | set(ALLOW.split(", "))
                            else "other"] += 1
        try:
            if method == "ACK":
                return True
            if method == "REGISTER":
                await self._register(msg, peer)
            elif method == "MESSAGE":
                await self._message(msg, peer)
            elif method == "OPTIONS":
                self._send(peer, codec.response(msg, 200, "OK", [("Allow", ALLOW)]))
            elif method in OTHER_METHODS:
                raise _Refused("method_not_allowed", 405, "Method Not Allowed",
                               [("Allow", ALLOW)])
            else:
                raise _Refused("unknown_method", 501, "Not Implemented")
        except _Refused as exc:
            self.stats.rejected[exc.reason] += 1
            self._send(peer, codec.response(msg, exc.status, exc.phrase, exc.extra))
            return False
        except Exception:  # a bug or the database away: answered, counted, the listener lives
            self.stats.rejected["internal_error"] += 1
            log.exception("gb28181 %s: handling %s failed", peer.text, method)
            self._send(peer, codec.response(msg, 500, "Server Internal Error"))
            return False
        return True

    async def _register(self, msg: SipMessage, peer: _Peer) -> None:
        device = msg.user("To") or ""
        if not (len(device) == 20 and device.isdigit()):
            raise _Refused("bad_device_id", 403, "Forbidden (device id)")
        secret = await self.sink.device_secret(device)
        if secret is None:
            raise _Refused("unknown_device", 403, "Forbidden (unknown device)")
        key = secret.ha1 or (digest.ha1(device, self.realm, self._password)
                             if self._password else None)
        if key is None:
            raise _Refused("no_secret", 403, "Forbidden (no secret configured)")
        auth = msg.header("Authorization")
        if auth is None:
            self.stats.challenges += 1
            self._send(peer, self._challenge(msg))
            return
        try:
            creds = digest.parse_authorization(auth)
        except digest.DigestError as exc:
            raise _Refused(exc.reason, 400, "Bad Request (Authorization)") from None
        state = self.nonces.check(creds.nonce)
        if state == "stale":
            raise _Refused("stale_nonce", 401, "Unauthorized", self._challenge_header(True))
        if (state == "bad" or creds.username != device or creds.realm != self.realm
                or not digest.verify(creds, "REGISTER", key)):
            log.info("gb28181 %s: wrong digest for %s", peer.text, device)
            raise _Refused("auth_failed", 401, "Unauthorized", self._challenge_header(False))
        expires = _expires(msg)
        now = datetime.now(UTC)
        if expires == 0:
            self._devices.pop(device, None)
            await self.sink.unregistered(device, now)
            self.stats.unregistrations += 1
        else:
            expires = min(max(expires, MIN_EXPIRES), MAX_EXPIRES)
            await self.sink.registered(Registration(device, peer.transport, peer.text, expires,
                                                    now))
            self._devices[device] = _Device(peer, time.monotonic() + expires)
            self.stats.registrations += 1
        extra = [("Date", now.astimezone(manscdp.BEIJING).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]),
                 ("Expires", str(expires))]
        if contact := msg.header("Contact"):
            extra.append(("Contact", contact))
        self._send(peer, codec.response(msg, 200, "OK", extra))
        if expires:
            self.query_catalog(device)

    def _challenge_header(self, stale: bool) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", digest.challenge(self.realm, self.nonces.issue(),
                                                      stale=stale))]

    def _challenge(self, msg: SipMessage) -> SipMessage:
        return codec.response(msg, 401, "Unauthorized", self._challenge_header(False))

    async def _message(self, msg: SipMessage, peer: _Peer) -> None:
        device = msg.user("From") or ""
        known = self._devices.get(device)
        if (known is None or known.expires_at <= time.monotonic()
                or known.peer.addr != peer.addr or known.peer.transport != peer.transport):
            raise _Refused("not_registered", 403, "Forbidden (register first)")
        if (msg.header("Content-Type") or "").lower() != manscdp.CONTENT_TYPE.lower():
            raise _Refused("unsupported_media_type", 415, "Unsupported Media Type",
                           [("Accept", manscdp.CONTENT_TYPE)])
        try:
            body = manscdp.parse(msg.body)
        except manscdp.BodyError as exc:
            raise _Refused(f"body:{exc.reason}", 400, "Bad Request (body)") from None
        self._send(peer, codec.response(msg, 200, "OK"))
        known.peer = peer  # a TCP device's answers go back on its current connection
        try:
            await self._act(device, body)
        except Exception:  # answered 200 already: counted and logged, never a second reply
            self.stats.rejected["sink_error"] += 1
            log.exception("gb28181 %s: acting on %s failed", peer.text, type(body).__name__)

    async def _act(self, device: str, body: manscdp.Body) -> None:
        if isinstance(body, manscdp.Keepalive):
            self.stats.keepalives += 1
            await self.sink.keepalive(device, datetime.now(UTC))
        elif isinstance(body, manscdp.CatalogResponse):
            self.stats.catalog_items += await self.sink.catalog(device, body.items,
                                                                body.sum_num)
        elif isinstance(body, manscdp.AlarmNotify) and await self.sink.alarm(device, body):
            self.stats.alarms += 1

    # ---- requests to devices -----------------------------------------------------------------

    def query_catalog(self, device_id: str) -> bool:
        """Send a Catalog query to a registered device; False when it is not registered."""
        device = self._devices.get(device_id)
        if device is None:
            return False
        self._sn += 1
        self._send(device.peer, self.request(device_id, device.peer,
                                             manscdp.catalog_query(self._sn, device_id)))
        return True

    def request(self, device_id: str, peer: _Peer, body: bytes) -> SipMessage:
        via = (f"SIP/2.0/{peer.transport.upper()} {self.host}:{self.port};rport;"
               f"branch={codec.new_branch()}")
        return SipMessage(method="MESSAGE", uri=f"sip:{device_id}@{peer.text}", headers=[
            ("Via", via), ("From", f"<sip:{self.server_id}@{self.realm}>;tag={codec.new_tag()}"),
            ("To", f"<sip:{device_id}@{self.realm}>"), ("Call-ID", codec.new_tag() * 4),
            ("CSeq", f"{self._sn} MESSAGE"), ("Max-Forwards", "70"),
            ("Content-Type", manscdp.CONTENT_TYPE)], body=body)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, listener: SipListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.listener._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable: a device went away
        self.listener.stats.rejected["udp_error"] += 1


def _expires(msg: SipMessage) -> int:
    text = msg.header("Expires")
    if text is None:
        contact = msg.header("Contact") or ""
        _, found, rest = contact.partition(";expires=")
        text = rest.split(";")[0].strip() if found else None
    if text is None:
        return DEFAULT_EXPIRES
    if not text.isdigit() or len(text) > 9:
        raise _Refused("bad_expires", 400, "Bad Request (Expires)")
    return int(text)
