"""Play addresses of cameras: a URL template per media server kind, signed and expiring.

The media server (not this app) pulls each camera's stream (GB/T 28181 INVITE or the device's
RTSP) and serves it; the app only hands out addresses. The patterns below are each project's
documented play URLs, with `{base}` the server's address (settings.media_base_url) and `{code}`
the stream named after the camera's 20-digit id:

- go2rtc (github.com/AlexxIT/go2rtc): HLS `{base}/api/stream.m3u8?src={code}`
  (internal/hls/README.md, "HLS/TS stream: http://192.168.1.123:1984/api/stream.m3u8?src=
  camera1"); WHEP `{base}/api/webrtc?src={code}` (internal/webrtc/README.md, the WHEP source
  example "webrtc:http://192.168.1.123:1984/api/webrtc?src=camera1": the same endpoint
  answers a WHEP POST of an SDP offer).
- ZLMediaKit (github.com/ZLMediaKit/ZLMediaKit): HLS `{base}/rtp/{code}/hls.m3u8` (wiki
  "播放url规则" / "Playing URL Rules": http://somedomain.com/live/0/hls.m3u8 for app `live`,
  stream `0`; GB/T 28181 RTP streams land in app `rtp`); WHEP
  `{base}/index/api/whep?app=rtp&stream={code}` (server/WebApi.cpp registers /index/api/whep
  with `app` and `stream`). The stream id is what the signalling platform chose when it
  opened the RTP port (wvp-GB28181-pro uses `{device}_{channel}`): set the templates to
  `{base}/rtp/{parent}_{code}/hls.m3u8` then.
- MediaMTX (github.com/bluenviron/mediamtx): HLS `{base}/{code}/index.m3u8` (README, "Read
  ... HLS": http://localhost:8888/mystream/index.m3u8); WHEP `{base}/{code}/whep` (README,
  "Read ... WebRTC": http://localhost:8889/mystream/whep). HLS (:8888) and WebRTC (:8889)
  listen on different ports: put the port in media_whep_template then
  (http://host:8889/{code}/whep).
- builtin: the app's own test streams (backend.cameras.teststreams), served by
  GET /media/hls/{token}/{code}/{file} with the token in the path, so that the player's
  relative segment requests (seg_000.ts next to index.m3u8) carry it too.

`media_hls_template` / `media_whep_template` replace a kind's pattern ({base}, {code}, and
optionally {parent} (the registering device's id), {token} and {expires}).

A link carries a token: HMAC-SHA256 over (code, protocol, expiry) with `media_link_secret` (a
random secret per process when unset: links then die with the process), valid
`media_link_ttl_s`. An external media server checks it through its auth hook (ZLMediaKit
on_play, MediaMTX authHTTPAddress, go2rtc behind a proxy); where the template has no {token},
it goes in a `token` query parameter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from backend.settings import Settings

Protocol = Literal["hls", "whep"]
PROTOCOLS: tuple[Protocol, ...] = ("hls", "whep")
BUILTIN = "builtin"
TEMPLATES: dict[str, dict[Protocol, str]] = {
    "go2rtc": {"hls": "{base}/api/stream.m3u8?src={code}",
               "whep": "{base}/api/webrtc?src={code}"},
    "zlmediakit": {"hls": "{base}/rtp/{code}/hls.m3u8",
                   "whep": "{base}/index/api/whep?app=rtp&stream={code}"},
    "mediamtx": {"hls": "{base}/{code}/index.m3u8", "whep": "{base}/{code}/whep"},
    BUILTIN: {"hls": "{base}/hls/{token}/{code}/index.m3u8"},
}
PLAYLIST = "index.m3u8"
SEGMENT = re.compile(r"^seg_[0-9]{3}\.ts$")
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}
CODE = re.compile(r"^[0-9]{20}$")
# "<expiry unix seconds>.<43 base64url chars of the HMAC>": bounded before any parsing.
TOKEN = re.compile(r"^([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")
MAX_TOKEN = 64


class LinkRefused(Exception):
    """A token that does not open the stream; `reason` is the counter's label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NoStream(Exception):
    """The camera has no stream (builtin kind without a test stream, or no WHEP there)."""


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    expires_at: datetime


def _sign(secret: bytes, code: str, protocol: str, expires: int) -> str:
    mac = hmac.new(secret, f"{code}\n{protocol}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def stream_dir(settings: Settings, code: str) -> Path:
    """Where the builtin test stream of `code` lives (its playlist and segments)."""
    if not CODE.match(code):
        raise ValueError(f"{code!r} is not a 20-digit camera id")
    return Path(settings.media_hls_dir) / code


def builtin_has_stream(settings: Settings, code: str) -> bool:
    return CODE.match(code) is not None and (stream_dir(settings, code) / PLAYLIST).is_file()


Streams = Callable[[list[str]], dict[str, bool]]  # codes -> whether each can play (.streams)


def has_stream(settings: Settings, code: str) -> bool:
    """A camera can play: always behind a media server; with builtin, when its test stream is
    there."""
    return settings.media_kind != BUILTIN or builtin_has_stream(settings, code)


def builtin_streams(settings: Settings) -> set[str]:
    """Codes with a builtin test stream (one directory listing for a page of cameras)."""
    root = Path(settings.media_hls_dir)
    if not root.is_dir():
        return set()
    return {p.name for p in root.iterdir() if CODE.match(p.name) and (p / PLAYLIST).is_file()}


@dataclass
class MediaLinks:
    """Signs and checks play links for one app; counts what it refuses (on /metrics)."""

    settings: Settings
    secret: bytes = b""
    refusals: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if not self.secret:
            configured = self.settings.media_link_secret
            self.secret = configured.encode() if configured else secrets.token_bytes(32)

    @property
    def kind(self) -> str:
        return self.settings.media_kind

    def template(self, protocol: Protocol) -> str | None:
        override = (self.settings.media_hls_template if protocol == "hls"
                    else self.settings.media_whep_template)
        return override or TEMPLATES[self.kind].get(protocol)

    def has_stream(self, code: str) -> bool:
        return has_stream(self.settings, code)

    def streams(self, codes: list[str]) -> dict[str, bool]:
        if self.kind != BUILTIN:
            return dict.fromkeys(codes, True)
        have = builtin_streams(self.settings)
        return {c: c in have for c in codes}

    def link(self, code: str, protocol: Protocol, now: datetime | None = None,
             parent: str | None = None) -> Link:
        """A signed address valid for media_link_ttl_s; NoStream when there is none.
        `parent` fills {parent} (the registering device's id; the camera's own without)."""
        template = self.template(protocol)
        if template is None or not self.has_stream(code):
            raise NoStream(f"Camera {code} has no {protocol.upper()} stream"
                           + (" (the demo's test streams play HLS only)"
                              if template is None else ""))
        now = now or datetime.now(UTC)
        expires = int(now.timestamp()) + self.settings.media_link_ttl_s
        token = f"{expires}.{_sign(self.secret, code, protocol, expires)}"
        base = self.settings.media_base_url.rstrip("/")
        url = template.format(base=base, code=code, token=token, expires=expires,
                              parent=parent or code)
        if "{token}" not in template:
            url += ("&" if "?" in url else "?") + f"token={token}"
        return Link(url, datetime.fromtimestamp(expires, UTC))

    def check(self, token: str, code: str, protocol: Protocol,
              now: datetime | None = None) -> None:
        """Nothing when `token` opens `code` over `protocol` now; LinkRefused (counted)."""
        try:
            if len(token) > MAX_TOKEN or not (m := TOKEN.match(token)):
                raise LinkRefused("malformed", "The play link is not one this server made")
            expires, mac = int(m.group(1)), m.group(2)
            if not hmac.compare_digest(mac, _sign(self.secret, code, protocol, expires)):
                raise LinkRefused("bad_signature", "The play link is not valid for this camera")
            if expires <= (now or datetime.now(UTC)).timestamp():
                raise LinkRefused("expired", "The play link has expired: ask for a new one "
                                  "(POST /api/cameras/{code}/play)")
        except LinkRefused as refused:
            self.count(refused.reason)
            raise

    def count(self, reason: str) -> None:
        self.refusals[reason] += 1


_LOCK = threading.Lock()


def links_of(holder: object, settings: Settings) -> MediaLinks:
    """The app's MediaLinks, made on first need (one random secret per app, also when two
    requests ask at once)."""
    found = getattr(holder, "camera_media", None)
    if found is None:
        with _LOCK:
            found = getattr(holder, "camera_media", None)
            if found is None:
                found = MediaLinks(settings)
                holder.camera_media = found  # type: ignore[attr-defined]
    return found


def content_type(name: str) -> str:
    return CONTENT_TYPES[Path(name).suffix]


def media_file(settings: Settings, code: str, name: str) -> Path:
    """The file of a builtin stream: only `index.m3u8` and `seg_NNN.ts` inside the camera's
    directory (ValueError otherwise, FileNotFoundError when it is not there)."""
    if name != PLAYLIST and not SEGMENT.match(name):
        raise ValueError("Only index.m3u8 and seg_NNN.ts are served")
    root = stream_dir(settings, code).resolve()
    path = (root / name).resolve()
    if path.parent != root:  # the names above cannot leave it; a symlink could
        raise ValueError("Only the camera's own stream files are served")
    if not path.is_file():
        raise FileNotFoundError(name)
    return path

