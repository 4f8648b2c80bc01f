"""bench_hub's client processes (`python -m tests.perf.bench_hub --clients-child`): many
websocket connections on a minimal asyncio.Protocol client (handshake by hand, frames parsed in
place), each authenticating and subscribing to `vehicles.positions`, recording `receive - sent`
of every event in 1 ms histograms per measurement window; commands over stdin, one JSON line
answers each."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import sys
import time
import zlib
from typing import Any

import orjson

from tests.perf.hub_servers import COUNTY, TOKEN, raise_fd_limit

STALLER_RCVBUF = 16 * 1024
HIST_MS = 20_000  # latency histogram: 1 ms buckets, the last one is ">= 20 s"


def client_frame(text: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (payloads < 126 bytes)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(text))
    return bytes([0x80 | opcode, 0x80 | len(text)]) + mask + masked


class Window:
    """Latency histograms and delivery counts for events sent / received within [t0, t1]."""

    def __init__(self, t0: float, t1: float) -> None:
        self.t0, self.t1 = t0, t1
        self.hist = [[0] * (HIST_MS + 1), [0] * (HIST_MS + 1)]  # [others, stallers]
        self.delivered = [0, 0]


class Conn(asyncio.Protocol):
    def __init__(self, proc: ClientProc, request: bytes, hello: list[bytes], staller: bool
                 ) -> None:
        self.proc, self.request, self.hello, self.group = proc, request, hello, int(staller)
        self.buf = b""
        self.open = False
        self.subscribed = False
        self.inflate: Any = None
        self.no_takeover = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.proc.lost += 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        now = time.time()
        proc = self.proc
        proc.last_data = now
        buf = self.buf + data if self.buf else data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if b" 101 " not in buf[:end]:
                raise RuntimeError(f"handshake refused: {buf[:end]!r}")
            response = buf[:end].lower()
            if b"permessage-deflate" in response:
                self.inflate = zlib.decompressobj(-15)
                self.no_takeover = b"server_no_context_takeover" in response
            self.open = True
            for hello in self.hello:
                self.transport.write(hello)  # type: ignore[union-attr]
            buf = buf[end + 4:]
        pos, n = 0, len(buf)
        windows, group = proc.windows, self.group
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            if length < 126:
                head = 2
            elif length == 126:
                if n - pos < 4:
                    break
                length, head = (buf[pos + 2] << 8) | buf[pos + 3], 4
            else:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            end = pos + head + length
            if end > n:
                break
            first = buf[pos]
            opcode = first & 0x0F
            start = pos + head
            pos = end
            if opcode == 1:
                if first & 0x40:  # RSV1: compressed (permessage-deflate)
                    text = self.inflate.decompress(buf[start:end] + b"\x00\x00\xff\xff")
                    if self.no_takeover:
                        self.inflate = zlib.decompressobj(-15)
                    start, end = 0, len(text)
                else:
                    text = buf
                if text.startswith(b'{"type":"event"', start):
                    i = text.rfind(b'"sent":', start, end)
                    sent = float(text[i + 7:end - 2])
                    proc.events += 1
                    for w in windows:
                        if w.t0 <= sent <= w.t1:
                            w.hist[group][min(int((now - sent) * 1000), HIST_MS)] += 1
                        if w.t0 <= now <= w.t1:
                            w.delivered[group] += 1
                else:
                    self.control(text[start:end])
            elif opcode == 9:  # protocol ping: answer with the same payload
                self.transport.write(client_frame(buf[start:end], 0xA))  # type: ignore[union-attr]
        self.buf = buf[pos:]

    def control(self, payload: bytes) -> None:
        msg = orjson.loads(payload)
        kind = msg.get("type")
        if kind == "subscribed":
            self.subscribed = True
            self.proc.subscribed += 1
        elif kind == "ping":
            self.transport.write(client_frame(b'{"type":"pong"}'))  # type: ignore[union-attr]
        elif kind in ("error", "resync"):
            self.proc.notes[f"{kind}: {msg.get('message') or msg.get('reason')}"] = 1


class ClientProc:
    """One client process: `connect PORT COUNT FIRST MODE SEED`, `measure` windows, `stall`,
    `quiet`, `report`, `close`; one JSON line answers each."""

    def __init__(self) -> None:
        self.conns: list[Conn] = []
        self.windows: list[Window] = []
        self.events = 0
        self.subscribed = 0
        self.lost = 0
        self.last_data = 0.0
        self.notes: dict[str, int] = {}

    async def connect(self, port: int, count: int, first: int, bbox_deg: float, seed: int,
                      deflate: bool) -> None:
        loop = asyncio.get_running_loop()
        rng = random.Random(seed * 1_000_003 + first)
        w, s, e, n = COUNTY

        def make(k: int) -> Conn:
            sub: dict[str, Any] = {"type": "subscribe", "channel": "vehicles.positions"}
            if bbox_deg > 0:
                x, y = rng.uniform(w, e - bbox_deg), rng.uniform(s, n - bbox_deg)
                sub["bbox"] = [round(x, 5), round(y, 5), round(x + bbox_deg, 5),
                               round(y + bbox_deg, 5)]
            key = base64.b64encode(os.urandom(16)).decode()
            offer = ("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                     if deflate else "")  # what browsers send
            request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{offer}"
                       "Sec-WebSocket-Version: 13\r\n\r\n").encode()
            hello = [client_frame(orjson.dumps({"type": "auth", "token": TOKEN})),
                     client_frame(orjson.dumps(sub))]
            return Conn(self, request, hello, staller=(first + k) % 10 == 0)

        def sock(p: Conn) -> socket.socket:
            s = socket.socket()
            if p.group:  # a small window: a staller's backlog piles up in the server, not here
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLER_RCVBUF)
            s.setblocking(False)
            return s

        async def open_one(p: Conn) -> None:
            s = sock(p)
            await loop.sock_connect(s, ("127.0.0.1", port))
            await loop.create_connection(lambda: p, sock=s)

        protos = [make(k) for k in range(count)]
        for i in range(0, count, 50):  # a few at a time: no SYN backlog overflow
            await asyncio.gather(*(open_one(p) for p in protos[i:i + 50]))
        self.conns.extend(protos)
        deadline = time.time() + 60
        while sum(c.subscribed for c in protos) < count and time.time() < deadline:
            await asyncio.sleep(0.05)

    def stall(self, t0: float, t1: float) -> None:
        loop = asyncio.get_running_loop()
        stallers = [c for c in self.conns if c.group and c.transport is not None]

        def pause() -> None:
            for c in stallers:
                if c.transport is not None:
                    c.transport.pause_reading()

        def resume() -> None:
            for c in stallers:
                if c.transport is not None:
                    c.transport.resume_reading()

        loop.call_later(max(0.0, t0 - time.time()), pause)
        loop.call_later(max(0.0, t1 - time.time()), resume)

    async def quiet(self, idle: float, limit: float) -> None:
        deadline = time.time() + limit
        while time.time() < deadline and time.time() - self.last_data < idle:
            await asyncio.sleep(0.05)

    def report(self) -> dict[str, Any]:
        return {"windows": [{"hist": w.hist, "delivered": w.delivered} for w in self.windows],
                "events": self.events, "subscribed": sum(c.subscribed for c in self.conns),
                "connections": len(self.conns), "lost": self.lost, "notes": list(self.notes)}

    def close(self) -> None:
        for c in self.conns:
            if c.transport is not None:
                c.transport.close()
        self.conns, self.windows, self.events, self.subscribed, self.lost = [], [], 0, 0, 0
        self.notes = {}

    async def main(self) -> None:
        raise_fd_limit()
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            cmd, *a = line.split()
            answer: dict[str, Any] = {"ok": True}
            if cmd == "connect":
                await self.connect(int(a[0]), int(a[1]), int(a[2]), float(a[3]), int(a[4]),
                                   a[5] == "1")
                answer["subscribed"] = sum(c.subscribed for c in self.conns)
            elif cmd == "measure":  # t0 t1 [t0 t1 ...]
                vals = [float(x) for x in a]
                self.windows = [Window(vals[i], vals[i + 1]) for i in range(0, len(vals), 2)]
            elif cmd == "stall":
                self.stall(float(a[0]), float(a[1]))
            elif cmd == "quiet":
                await self.quiet(float(a[0]), float(a[1]))
            elif cmd == "report":
                answer = self.report()
            elif cmd == "close":
                self.close()
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
