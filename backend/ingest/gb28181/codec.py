"""SIP messages (RFC 3261 §7): start line, headers (compact forms, folded lines), body.

Pure and bounded: a message larger than `max_bytes`, with more than `max_headers` headers or a
line longer than `max_line` is refused before anything else is read. Every failure is a
`SipError` with a short `reason` (a metrics label); when the request line and the headers a
reply needs were readable, `request` holds them so the listener can still answer 400.
`StreamFramer` splits a TCP byte stream by Content-Length (mandatory on streams, §18.3).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

VERSION = "SIP/2.0"
MAX_HEADERS = 64
MAX_LINE = 2048

# RFC 3261 §7.3.3 compact forms, and the canonical spelling of the headers this endpoint uses.
COMPACT = {"i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
           "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To",
           "v": "Via"}
_CANONICAL = {name.lower(): name for name in (
    "Call-ID", "Contact", "Content-Length", "Content-Type", "CSeq", "Date", "Expires", "From",
    "Max-Forwards", "To", "Via", "WWW-Authenticate", "Authorization", "User-Agent", "Allow",
    "Subject", "Supported", "Content-Encoding", "Retry-After")}
# What every reply copies from its request (§8.2.6.2); a request without them gets no answer.
REPLY_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")

_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_REQUEST_LINE = re.compile(r"([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP/2\.0")
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9]{2}) ?(.*)")
_CSEQ = re.compile(r"\s*([0-9]{1,10})\s+([A-Za-z]+)\s*")
_USER = re.compile(r"sips?:([^@;>\s]+)@")


class SipError(ValueError):
    def __init__(self, reason: str, detail: str = "", request: SipMessage | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.request = request  # set when a 400 can be built from what was read


@dataclass
class SipMessage:
    method: str | None = None        # requests
    uri: str | None = None
    status: int | None = None        # responses
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def header(self, name: str) -> str | None:
        key = canonical(name)
        for k, v in self.headers:
            if k == key:
                return v
        return None

    def set(self, name: str, value: str) -> None:
        key = canonical(name)
        self.headers = [(k, v) for k, v in self.headers if k != key]
        self.headers.append((key, value))

    @property
    def cseq(self) -> tuple[int, str] | None:
        m = _CSEQ.fullmatch(self.header("CSeq") or "")
        return (int(m.group(1)), m.group(2).upper()) if m else None

    def user(self, name: str = "From") -> str | None:
        """The user part of a From/To URI (a GB/T 28181 device id)."""
        m = _USER.search(self.header(name) or "")
        return m.group(1) if m else None

    def encode(self) -> bytes:
        start = (f"{self.method} {self.uri} {VERSION}" if self.method is not None
                 else f"{VERSION} {self.status} {self.reason}")
        lines = [start] + [f"{k}: {v}" for k, v in self.headers if k != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def canonical(name: str) -> str:
    low = name.strip().lower()
    if low in COMPACT:
        return COMPACT[low]
    return _CANONICAL.get(low, "-".join(p.capitalize() for p in low.split("-")))


def parse(data: bytes, *, max_bytes: int = 65536, max_headers: int = MAX_HEADERS,
          max_line: int = MAX_LINE, stream: bool = False) -> SipMessage:
    """One whole message. `stream`: it came from TCP, so Content-Length is mandatory."""
    if len(data) > max_bytes:
        raise SipError("oversized", f"{len(data)} bytes > {max_bytes}")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")  # bare LF: tolerated (§7.5 says be lenient)
        if not sep:
            raise SipError("no_header_end")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipError("not_utf8", "the start line and headers must be UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and lines[0] == "":  # keep-alive CRLFs before a message
        lines.pop(0)
    if not lines:
        raise SipError("empty")
    if any(len(line) > max_line for line in lines):
        raise SipError("line_too_long", f"a line is longer than {max_line} characters")
    msg = _start_line(lines[0])
    count = 0
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):  # folded continuation (§7.3.1)
            if not msg.headers:
                raise SipError("bad_header", "a continuation line before any header")
            k, v = msg.headers[-1]
            msg.headers[-1] = (k, f"{v} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name.strip()):
            raise SipError("bad_header", f"not a header line: {line[:60]!r}", _replyable(msg))
        count += 1
        if count > max_headers:
            raise SipError("too_many_headers", f"more than {max_headers}", _replyable(msg))
        msg.headers.append((canonical(name), value.strip()))
    if any(len(v) > max_line for _, v in msg.headers):
        raise SipError("line_too_long", "a folded header is too long", _replyable(msg))
    length_text = msg.header("Content-Length")
    if length_text is None:
        if stream and body:
            raise SipError("no_content_length", "required over TCP", _replyable(msg))
        length = len(body)
    else:
        if not length_text.isdigit() or len(length_text) > 9:
            raise SipError("bad_content_length", length_text[:20], _replyable(msg))
        length = int(length_text)
        if length > len(body):
            raise SipError("truncated_body", f"Content-Length {length} > {len(body)} bytes",
                           _replyable(msg))
    msg.body = body[:length]
    if msg.is_request:
        if msg.cseq is None or msg.cseq[1] != msg.method:
            raise SipError("bad_cseq", "CSeq must be 'number METHOD' of this request",
                           _replyable(msg))
        missing = [h for h in REPLY_HEADERS if msg.header(h) is None]
        if missing:
            raise SipError("missing_header", ", ".join(missing), _replyable(msg))
    return msg


def _start_line(line: str) -> SipMessage:
    if m := _REQUEST_LINE.fullmatch(line):
        return SipMessage(method=m.group(1).upper(), uri=m.group(2))
    if m := _STATUS_LINE.fullmatch(line):
        return SipMessage(status=int(m.group(1)), reason=m.group(2))
    raise SipError("bad_start_line", line[:60])


def _replyable(msg: SipMessage) -> SipMessage | None:
    """The request as read so far, when a reply could be addressed from it."""
    if msg.is_request and all(msg.header(h) is not None for h in REPLY_HEADERS):
        return msg
    return None


def response(request: SipMessage, status: int, reason: str,
             extra: list[tuple[str, str]] | None = None, body: bytes = b"",
             to_tag: str | None = None) -> SipMessage:
    """A reply to `request` (§8.2.6): Via, From, Call-ID, CSeq copied, a To tag added."""
    headers: list[tuple[str, str]] = [(k, v) for k, v in request.headers if k == "Via"]
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = request.header(name) or ""
        if name == "To" and ";tag=" not in value and status > 100:
            value = f"{value};tag={to_tag or new_tag()}"
        headers.append((name, value))
    headers.extend(extra or [])
    return SipMessage(status=status, reason=reason, headers=headers, body=body)


def new_tag() -> str:
    return secrets.token_hex(4)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)  # the RFC 3261 magic cookie


class StreamFramer:
    """Splits a TCP stream into whole messages by Content-Length. Bounded: a head without its
    blank line within `max_bytes`, or a declared body that would pass it, is an error, after
    which the connection should be closed (the stream cannot be resynchronised)."""

    def __init__(self, max_bytes: int = 65536) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            while self._buf[:2] == b"\r\n":  # RFC 5626 keep-alive pings between messages
                del self._buf[:2]
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > self.max_bytes:
                    raise SipError("oversized", "no end of headers within the size limit")
                return out
            length = _content_length(bytes(self._buf[:end]))
            total = end + 4 + length
            if total > self.max_bytes:
                raise SipError("oversized", f"{total} bytes > {self.max_bytes}")
            if len(self._buf) < total:
                return out
            out.append(bytes(self._buf[:total]))
            del self._buf[:total]


_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([0-9]{1,9})[ \t]*$",
                     re.IGNORECASE | re.MULTILINE)


def _content_length(head: bytes) -> int:
    m = _LENGTH.search(head.replace(b"\r\n", b"\n"))
    if m is None:
        raise SipError("no_content_length", "required over TCP")
    return int(m.group(1))
