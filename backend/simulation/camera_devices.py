"""Simulated GB/T 28181 devices: real SIP user agents over UDP or TCP.

A device REGISTERs with digest, sends Keepalive MESSAGEs every `keepalive_s`, answers the
platform's Catalog query with its channels (GB2312 bodies, `chunk` items per MESSAGE with
SumNum) and sends Alarm notifies. Knobs: `go_silent()` stops its keepalives and answers (the
platform should mark it offline), `come_back()` registers again; a wrong `password` makes its
register fail with 401. Used by the `cameras-day` scenario and the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.ingest.gb28181 import codec, digest, manscdp
from backend.ingest.gb28181.codec import SipError, SipMessage

log = logging.getLogger("cityops.simulation.sip")

USER_AGENT = "cityops-sim/1 (示意 synthetic device)"


@dataclass(frozen=True, slots=True)
class Channel:
    code: str
    name: str
    lon: float | None = None
    lat: float | None = None
    status: str = "ON"


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, device: SimDevice) -> None:
        self.device = device

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.device._received(data)


class SimDevice:
    def __init__(self, device_id: str, *, server_id: str, realm: str, password: str,
                 host: str, port: int, transport: str = "udp",
                 channels: Sequence[Channel] = (), keepalive_s: float = 60.0,
                 expires: int = 3600, chunk: int = 2, timeout_s: float = 2.0) -> None:
        self.device_id, self.server_id, self.realm = device_id, server_id, realm
        self.password = password
        self.host, self.port, self.transport = host, port, transport
        self.channels = list(channels)
        self.keepalive_s, self.expires, self.chunk = keepalive_s, expires, chunk
        self.timeout_s = timeout_s
        self.silent = False
        self.catalog_queries = 0
        self.sent: dict[str, int] = {}   # requests sent, by kind
        self._local = ("127.0.0.1", 0)
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._pending: dict[tuple[str, int], asyncio.Future[SipMessage]] = {}
        self._cseq = 0
        self._sn = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if self.transport == "udp":
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), remote_addr=(self.host, self.port))
            self._local = self._udp.get_extra_info("sockname")[:2]
        else:
            reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._local = self._writer.get_extra_info("sockname")[:2]
            self._reader_task = asyncio.create_task(self._read_stream(reader))

    async def close(self) -> None:
        self.stop_keepalives()
        for task in [self._reader_task, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()

    async def __aenter__(self) -> SimDevice:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- what a device does ------------------------------------------------------------------

    async def register(self, expires: int | None = None) -> int:
        """REGISTER, answering one digest challenge; the final status code."""
        exp = self.expires if expires is None else expires
        first = await self._request("REGISTER", extra=[("Expires", str(exp))])
        if first.status != 401:
            return first.status or 0
        params = digest.challenge_params(first.header("WWW-Authenticate") or "")
        uri = f"sip:{self.server_id}@{self.realm}"
        auth = digest.authorization(self.device_id, params.get("realm", self.realm),
                                    self.password, "REGISTER", uri, params.get("nonce", ""))
        final = await self._request("REGISTER", extra=[("Expires", str(exp)),
                                                       ("Authorization", auth)])
        return final.status or 0

    async def unregister(self) -> int:
        self.stop_keepalives()
        return await self.register(expires=0)

    async def keepalive(self) -> int:
        self._sn += 1
        return await self._message(manscdp.keepalive(self._sn, self.device_id), "keepalive")

    async def alarm(self, channel: str, kind: str, *, time: datetime | None = None,
                    priority: int = 2, description: str | None = None) -> int:
        self._sn += 1
        body = manscdp.alarm(self._sn, channel, kind=kind, time=time or datetime.now(UTC),
                             priority=priority, description=description)
        return await self._message(body, "alarm")

    def start_keepalives(self) -> None:
        self.stop_keepalives()
        self._keepalive_task = asyncio.create_task(self._keepalives())

    def stop_keepalives(self) -> None:
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            self._keepalive_task = None

    def go_silent(self) -> None:
        """Stop keepalives and answers, as a device whose network went away."""
        self.silent = True
        self.stop_keepalives()

    async def come_back(self) -> int:
        self.silent = False
        status = await self.register()
        if status == 200:
            self.start_keepalives()
        return status

    async def _keepalives(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            try:
                await self.keepalive()
            except TimeoutError:
                log.info("sim %s: keepalive unanswered", self.device_id)

    # ---- SIP plumbing ------------------------------------------------------------------------

    async def _message(self, body: bytes, kind: str) -> int:
        self.sent[kind] = self.sent.get(kind, 0) + 1
        answer = await self._request("MESSAGE", body=body, extra=[
            ("Content-Type", manscdp.CONTENT_TYPE)])
        return answer.status or 0

    def _new_request(self, method: str, extra: list[tuple[str, str]], body: bytes
                     ) -> SipMessage:
        self._cseq += 1
        host, port = self._local
        to = (f"<sip:{self.device_id}@{self.realm}>" if method == "REGISTER"
              else f"<sip:{self.server_id}@{self.realm}>")
        headers = [
            ("Via", f"SIP/2.0/{self.transport.upper()} {host}:{port};rport;"
                    f"branch={codec.new_branch()}"),
            ("From", f"<sip:{self.device_id}@{self.realm}>;tag={codec.new_tag()}"),
            ("To", to), ("Call-ID", f"{codec.new_tag()}{codec.new_tag()}@{host}"),
            ("CSeq", f"{self._cseq} {method}"), ("Max-Forwards", "70"),
            ("Contact", f"<sip:{self.device_id}@{host}:{port}>"), ("User-Agent", USER_AGENT),
            *extra]
        return SipMessage(method=method, uri=f"sip:{self.server_id}@{self.realm}",
                          headers=headers, body=body)

    async def _request(self, method: str, *, extra: list[tuple[str, str]] | None = None,
                       body: bytes = b"") -> SipMessage:
        msg = self._new_request(method, extra or [], body)
        key = (msg.header("Call-ID") or "", self._cseq)
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            for _ in range(3 if self.transport == "udp" else 1):  # UDP: retransmit (Timer A)
                self._write(msg.encode())
                done, _ = await asyncio.wait({future}, timeout=self.timeout_s)
                if done:
                    return future.result()
            raise TimeoutError(f"{method} unanswered")
        finally:
            self._pending.pop(key, None)

    def _write(self, data: bytes) -> None:
        if self._udp is not None:
            self._udp.sendto(data)
        elif self._writer is not None:
            self._writer.write(data)

    async def _read_stream(self, reader: asyncio.StreamReader) -> None:
        framer = codec.StreamFramer()
        while data := await reader.read(4096):
            for raw in framer.feed(data):
                self._received(raw)

    def _received(self, raw: bytes) -> None:
        try:
            msg = codec.parse(raw, stream=self.transport == "tcp")
        except SipError:
            return
        if not msg.is_request:
            cseq = msg.cseq
            future = self._pending.get((msg.header("Call-ID") or "", cseq[0] if cseq else -1))
            if future is not None and not future.done():
                future.set_result(msg)
            return
        if self.silent:
            return
        self._write(codec.response(msg, 200, "OK").encode())
        try:
            body = manscdp.parse(msg.body)
        except manscdp.BodyError:
            return
        if isinstance(body, manscdp.CatalogQuery):
            self.catalog_queries += 1
            task = asyncio.create_task(self._answer_catalog(body.sn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer_catalog(self, sn: int) -> None:
        items = [manscdp.CatalogItem(
            c.code, name=c.name, manufacturer="cityops-sim", model="SIM-1", owner="示意",
            civil_code=c.code[:6], parent_id=None if c.code == self.device_id else self.device_id,
            status=c.status, longitude=c.lon, latitude=c.lat) for c in self.channels]
        for start in range(0, max(len(items), 1), self.chunk):
            body = manscdp.catalog_response(sn, self.device_id, len(items),
                                            items[start:start + self.chunk])
            try:
                await self._message(body, "catalog")
            except TimeoutError:
                log.info("sim %s: catalog response unanswered", self.device_id)
