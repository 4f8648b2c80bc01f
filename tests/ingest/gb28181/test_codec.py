"""SIP message parsing and framing (RFC 3261 §7, §18.3): round trips, compact headers, folded
lines, bounds, and hostile bytes that must raise SipError and nothing else."""

from __future__ import annotations

import random

import pytest

from backend.ingest.gb28181 import codec
from backend.ingest.gb28181.codec import SipError, SipMessage

DEVICE = "34132400001320000001"
REGISTER = (
    "REGISTER sip:34132400002000000001@3413240000 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.7:5060;rport;branch=z9hG4bK776asdhds\r\n"
    f"From: <sip:{DEVICE}@3413240000>;tag=1928301774\r\n"
    f"To: <sip:{DEVICE}@3413240000>\r\n"
    "Call-ID: a84b4c76e66710@192.0.2.7\r\n"
    "CSeq: 314159 REGISTER\r\n"
    "Expires: 3600\r\n"
    "Content-Length: 0\r\n\r\n").encode()


def test_request_round_trip() -> None:
    msg = codec.parse(REGISTER)
    assert (msg.method, msg.uri) == ("REGISTER", "sip:34132400002000000001@3413240000")
    assert msg.cseq == (314159, "REGISTER")
    assert msg.user("From") == DEVICE and msg.user("To") == DEVICE
    again = codec.parse(msg.encode())
    assert again.headers == msg.headers and again.body == b""


def test_compact_forms_and_folding() -> None:
    raw = (
        "MESSAGE sip:34132400002000000001@3413240000 SIP/2.0\r\n"
        "v: SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bK1\r\n"
        f"f: <sip:{DEVICE}@3413240000>;tag=9\r\n"
        "t: <sip:34132400002000000001@3413240000>\r\n"
        "i: call-1\r\n"
        "CSEQ: 2 MESSAGE\r\n"
        "Subject: first,\r\n"
        "\tsecond\r\n"
        "c: Application/MANSCDP+xml\r\n"
        "l: 5\r\n\r\nhello").encode()
    msg = codec.parse(raw, stream=True)
    assert msg.header("Via") == "SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bK1"
    assert msg.header("call-id") == "call-1"
    assert msg.header("Subject") == "first, second"
    assert msg.header("Content-Type") == "Application/MANSCDP+xml"
    assert msg.body == b"hello"


def test_response_copies_the_dialog_headers() -> None:
    request = codec.parse(REGISTER)
    reply = codec.parse(codec.response(request, 401, "Unauthorized",
                                       [("WWW-Authenticate", 'Digest realm="r"')]).encode())
    assert (reply.status, reply.reason) == (401, "Unauthorized")
    for name in ("Via", "From", "Call-ID", "CSeq"):
        assert reply.header(name) == request.header(name)
    assert reply.header("To").startswith(request.header("To") + ";tag=")


def test_status_line() -> None:
    msg = codec.parse(b"SIP/2.0 200 OK\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n")
    assert msg.status == 200 and not msg.is_request


@pytest.mark.parametrize(("raw", "reason", "replyable"), [
    (b"HELLO\r\n\r\n", "bad_start_line", False),
    (b"REGISTER sip:x SIP/2.0\r\nbad header line\r\n\r\n", "bad_header", False),
    (REGISTER.replace(b"CSeq: 314159 REGISTER", b"CSeq: 1 INVITE"), "bad_cseq", True),
    (REGISTER.replace(b"Call-ID: a84b4c76e66710@192.0.2.7\r\n", b""), "missing_header", False),
    (REGISTER.replace(b"Content-Length: 0", b"Content-Length: 99"), "truncated_body", True),
    (REGISTER.replace(b"Content-Length: 0", b"Content-Length: -1"), "bad_content_length", True),
    (REGISTER.replace(b"\r\n\r\n", b"\r\n"), "no_header_end", False),
    (REGISTER.replace(b"Expires", b"\xff\xfeExpires"), "not_utf8", False),
])
def test_malformed(raw: bytes, reason: str, replyable: bool) -> None:
    with pytest.raises(SipError) as caught:
        codec.parse(raw)
    assert caught.value.reason == reason
    assert (caught.value.request is not None) == replyable


def test_bounds() -> None:
    with pytest.raises(SipError, match="oversized"):
        codec.parse(REGISTER + b"x" * 2000, max_bytes=1024)
    long_line = REGISTER.replace(b"Expires: 3600", b"Expires: " + b"9" * 3000)
    with pytest.raises(SipError, match="line_too_long"):
        codec.parse(long_line)
    many = REGISTER.replace(b"Expires: 3600\r\n", b"X-A: 1\r\n" * 70)
    with pytest.raises(SipError) as caught:
        codec.parse(many)
    assert caught.value.reason == "too_many_headers"


def test_stream_framer_splits_by_content_length() -> None:
    body = b"<x/>"
    msg = codec.parse(REGISTER)
    msg.body = body
    one = msg.encode()
    framer = codec.StreamFramer(max_bytes=4096)
    stream = b"\r\n\r\n" + one + one  # keep-alive pings first
    out: list[bytes] = []
    for i in range(0, len(stream), 7):  # arrives in small pieces
        out += framer.feed(stream[i:i + 7])
    assert out == [one, one]
    assert codec.parse(out[1], stream=True).body == body


def test_stream_framer_bounds() -> None:
    with pytest.raises(SipError, match="oversized"):
        codec.StreamFramer(max_bytes=1024).feed(b"A" * 2000)
    declared = REGISTER.replace(b"Content-Length: 0", b"Content-Length: 5000")
    with pytest.raises(SipError, match="oversized"):
        codec.StreamFramer(max_bytes=4096).feed(declared)
    with pytest.raises(SipError, match="no_content_length"):
        codec.StreamFramer().feed(REGISTER.replace(b"Content-Length: 0\r\n", b""))


def test_random_bytes_raise_only_sip_errors() -> None:
    """Random and mutated messages: parse returns a message or raises SipError, nothing else."""
    rng = random.Random(28181)
    seeds = [REGISTER, codec.parse(REGISTER).encode()]
    outcomes = {"ok": 0, "error": 0}
    for n in range(2000):
        if n % 2:
            raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        else:
            raw = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 8)):
                raw[rng.randrange(len(raw))] = rng.getrandbits(8)
            raw = bytes(raw)
        try:
            msg = codec.parse(raw, max_bytes=1024)
            assert isinstance(msg, SipMessage)
            outcomes["ok"] += 1
        except SipError:
            outcomes["error"] += 1
    assert outcomes["error"] > 1000 and sum(outcomes.values()) == 2000
