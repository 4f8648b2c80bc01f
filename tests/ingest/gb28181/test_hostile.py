"""Hostile and malformed SIP over real sockets: answered 400 (or 403/405/415/501) when a reply
can be addressed, dropped otherwise, always counted, and the listener keeps serving."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.ingest.gb28181 import codec, manscdp
from backend.settings import Settings
from tests.ingest.gb28181.support import (
    NVR,
    NVR_PASSWORD,
    add_device,
    borrow_cameras,
    device,
    listener_of,
    sip_client,
)

SERVER = "34132400002000000001"


@pytest.fixture(scope="module")
def sip(settings: Settings, county: dict[str, int], users: dict[str, str]
        ) -> Iterator[TestClient]:
    with sip_client(settings, sip_max_message_bytes=4096) as client:
        yield client


def request(method: str, *, cseq_method: str | None = None, body: bytes = b"",
            user: str = NVR, extra: str = "") -> bytes:
    return (f"{method} sip:{SERVER}@3413240000 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKtest\r\n"
            f"From: <sip:{user}@3413240000>;tag=1\r\nTo: <sip:{SERVER}@3413240000>\r\n"
            f"Call-ID: hostile-1\r\nCSeq: 1 {cseq_method or method}\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def udp_exchange(port: int, payloads: list[bytes], wait: float = 0.5) -> list[bytes]:
    """Send each datagram; collect every answer that comes back."""
    answers = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(wait)
        for data in payloads:
            s.sendto(data, ("127.0.0.1", port))
            try:
                answers.append(s.recv(65536))
            except TimeoutError:
                answers.append(b"")
    return answers


def status_of(answer: bytes) -> int | None:
    return codec.parse(answer).status if answer else None


def test_udp_answers_what_it_can_and_drops_the_rest(sip: TestClient) -> None:
    listener = listener_of(sip)
    before = sum(listener.stats.rejected.values())
    body = manscdp.keepalive(1, NVR)
    cases = [
        (request("REGISTER", cseq_method="INVITE"), 400),          # CSeq of another method
        (b"HELLO WORLD\r\n\r\n", None),                            # not SIP: dropped
        (b"\x00" * 100, None),
        (b"A" * (listener.max_message_bytes + 10), None),          # oversized
        (request("INVITE"), 405),
        (request("FROBNICATE"), 501),
        (request("MESSAGE", body=body, extra="Content-Type: Application/MANSCDP+xml\r\n"), 403),
        (request("REGISTER", user=NVR).replace(f"To: <sip:{SERVER}@".encode(),
                                               b"To: <sip:12345@"), 403),  # bad device id
        (request("REGISTER", user=NVR).replace(f"To: <sip:{SERVER}@".encode(),
                                               b"To: <sip:34132400001180000777@"), 403),
    ]
    answers = udp_exchange(listener.port, [raw for raw, _ in cases])
    assert [status_of(a) for a in answers] == [want for _, want in cases]
    assert b"Allow: REGISTER, MESSAGE" in answers[4]
    counted = listener.stats.rejected
    for reason in ("bad_cseq", "bad_start_line", "oversized", "method_not_allowed",
                   "unknown_method", "not_registered", "bad_device_id", "unknown_device"):
        assert counted[reason] >= 1, reason
    assert sum(counted.values()) - before == len(cases)
    assert counted["internal_error"] == 0
    assert status_of(udp_exchange(listener.port, [request("OPTIONS")])[0]) == 200  # alive
    ready = sip.get("/api/health/ready").json()
    assert ready["checks"]["sip"]["state"] == "ok"


def test_random_datagrams_never_stop_the_listener(sip: TestClient, engine: Engine) -> None:
    listener = listener_of(sip)
    rng = random.Random(5060)
    seeds = [request("REGISTER"), request("MESSAGE", body=manscdp.keepalive(1, NVR))]
    payloads = []
    for n in range(300):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            raw[rng.randrange(len(raw))] = rng.getrandbits(8)
        payloads.append(bytes(raw) if n % 3 else bytes(rng.getrandbits(8) for _ in range(80)))
    udp_exchange(listener.port, payloads, wait=0.01)
    assert listener.stats.rejected["internal_error"] == 0
    with borrow_cameras(engine, 0, offset=0):
        add_device(engine, NVR, NVR_PASSWORD)

        async def run() -> int:
            async with device(sip, NVR, NVR_PASSWORD, transport="tcp") as sim:
                return await sim.register()

        assert asyncio.run(run()) == 200  # still serving, over TCP as well


def test_tcp_garbage_closes_only_that_connection(sip: TestClient, engine: Engine) -> None:
    listener = listener_of(sip)
    closed = listener.stats.closed["garbage"]
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as s:
        # a bad request with a readable dialog is answered 400 and the link stays up
        s.sendall(request("REGISTER", cseq_method="BYE"))
        assert status_of(s.recv(65536)) == 400
        s.sendall(request("OPTIONS"))
        assert status_of(s.recv(65536)) == 200
        s.sendall(b"X" * (listener.max_message_bytes + 1))  # no end of headers: unframeable
        assert s.recv(65536) == b""  # closed by the listener
    assert listener.stats.closed["garbage"] == closed + 1
    with borrow_cameras(engine, 0, offset=0):
        add_device(engine, NVR, NVR_PASSWORD)

        async def run() -> int:
            async with device(sip, NVR, NVR_PASSWORD, transport="tcp") as sim:
                return await sim.register()

        assert asyncio.run(run()) == 200


def test_bad_bodies_and_media_types(sip: TestClient, engine: Engine) -> None:
    listener = listener_of(sip)
    with borrow_cameras(engine, 0, offset=0):
        add_device(engine, NVR, NVR_PASSWORD)

        async def run() -> list[int]:
            async with device(sip, NVR, NVR_PASSWORD) as sim:
                assert await sim.register() == 200
                out = []
                for body, ctype in (
                        (b"<Notify><CmdType>Keepalive", manscdp.CONTENT_TYPE),
                        (b'<!DOCTYPE x [<!ENTITY a "b">]><Notify>&a;</Notify>',
                         manscdp.CONTENT_TYPE),
                        (manscdp.keepalive(1, NVR), "text/plain")):
                    answer = await sim._request("MESSAGE", body=body,
                                                extra=[("Content-Type", ctype)])
                    out.append(answer.status or 0)
                out.append(await sim.keepalive())
                return out

        assert asyncio.run(run()) == [400, 400, 415, 200]
    assert listener.stats.rejected["body:bad_xml"] >= 1
    assert listener.stats.rejected["body:forbidden_xml"] >= 1
    assert listener.stats.rejected["unsupported_media_type"] >= 1
