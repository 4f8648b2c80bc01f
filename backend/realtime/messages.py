"""The `/ws` protocol: JSON text frames, one object per frame.

Client -> server
  {"type": "auth", "token": "..."}            first message, within `hub_auth_timeout_s`,
                                              else close 4401; never a query-string token.
                                              Without "token" the handshake's session
                                              cookie (a browser logged in) is used.
  {"type": "subscribe", "channel": "vehicles.positions",
   "bbox": [w, s, e, n], "zoom": 14, "since": 123}      bbox, zoom and since are optional.
  {"type": "unsubscribe", "channel": "..."}
  {"type": "viewport", "bbox": [w, s, e, n], "zoom": 14} moves every spatial subscription.
  {"type": "ping"}  -> {"type": "pong"}
  {"type": "pong"}  answers the server's heartbeat ping.

Server -> client
  {"type": "authenticated"}                              after a good auth message.
  {"type": "event", "channel": "...", "seq": N, "data": {...}}
  {"type": "subscribed", "channel": "...", "seq": N}    N: the channel's latest seq.
  {"type": "unsubscribed", "channel": "..."}
  {"type": "resync", "channel": "...", "reason": "..."}  reload state over REST, then
      carry on: `since` older than the history, or events dropped for a slow client.
  {"type": "error", "message": "..."}                    the connection stays open.
  {"type": "ping"}   every `hub_heartbeat_s`; answer with pong (any message counts). A client
                     silent for a whole interval after a ping is closed (4408).

Sequence numbers are per channel and assigned by the backplane. With viewport filters and
coalescing gaps are normal: resume (`since`) means "everything after N that matches my
subscription", never "every N+1".

Close codes: 4401 not authenticated, 4410 session ended (logout, the user disabled, their
roles or password changed, or the session expired: log in again; the close reason says
which), 4400 too many bad messages, 4408 heartbeat not answered, 1009 message too big,
1001 server shutting down.

Revocations travel on the backplane beside events (`Revocation`, never sent to clients):
every process closes the user's sockets with 4410 and drops the sessions from its cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

POSITIONS = "vehicles.positions"
ALARMS = "vehicles.alarms"
INCIDENTS = "incidents.changes"
TRAFFIC = "traffic.segments"  # levels of the trailing five minutes and the index (bbox)
TRAFFIC_ALERTS = "traffic.alerts"  # traffic alerts raised, updated, cleared, handled (lon/lat)
CAMERA_STATUS = "cameras.status"  # a camera went online, offline or fault (lon/lat)
CAMERA_ALARMS = "cameras.alarms"  # camera alarms raised, acknowledged, made cases (lon/lat)
# A dataset has a new current version (or its pointer moved back): {dataset_id, version_id,
# seq, arrival, rows_added, rows_changed, rows_removed, at}. Not spatial; subscribers of the
# dataset (data_subscriptions) are told, the changes feed has the same notices.
DATA_UPDATES = "data.updates"
# A domain view's KPI cards were recomputed (their data changed): {domain, cards: [...], at}.
# Not spatial; the county-wide figures only (a filtered view asks over REST). Issue 14.
DOMAIN_KPIS = "domains.kpis"
# The wall's header: the weather (current conditions and warnings) and who is on duty changed:
# {weather: {...} | null, warnings: [...], duty: [...], at}. Not spatial. Issue 14.
WALL_HEADER = "wall.header"
SYSTEM = "system"
CHANNELS = frozenset({POSITIONS, ALARMS, INCIDENTS, TRAFFIC, TRAFFIC_ALERTS, CAMERA_STATUS,
                      CAMERA_ALARMS, DATA_UPDATES, DOMAIN_KPIS, WALL_HEADER, SYSTEM})
# Events on these carry `lon`/`lat` or `bbox` in their data and are filtered per viewport.
SPATIAL = frozenset({POSITIONS, ALARMS, INCIDENTS, TRAFFIC, TRAFFIC_ALERTS, CAMERA_STATUS,
                     CAMERA_ALARMS})

CLOSE_UNAUTHORIZED = 4401
CLOSE_REVOKED = 4410
CLOSE_TOO_MANY_ERRORS = 4400
CLOSE_HEARTBEAT = 4408
CLOSE_TOO_BIG = 1009
CLOSE_GOING_AWAY = 1001

BBox = tuple[float, float, float, float]


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Auth(_Msg):
    type: Literal["auth"]
    token: str | None = Field(default=None, max_length=512)  # None: the session cookie


def _check_bbox(value: BBox | None) -> BBox | None:
    if value is None:
        return None
    w, s, e, n = value
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ValueError("bbox must be [west, south, east, north] in WGS84 degrees")
    return value


class Subscribe(_Msg):
    type: Literal["subscribe"]
    channel: str
    bbox: BBox | None = None
    zoom: float | None = Field(default=None, ge=0, le=24)
    since: int | None = Field(default=None, ge=0)

    _bbox = field_validator("bbox")(_check_bbox)


class Unsubscribe(_Msg):
    type: Literal["unsubscribe"]
    channel: str


class Viewport(_Msg):
    type: Literal["viewport"]
    bbox: BBox
    zoom: float | None = Field(default=None, ge=0, le=24)

    _bbox = field_validator("bbox")(_check_bbox)


class Ping(_Msg):
    type: Literal["ping"]


class Pong(_Msg):
    type: Literal["pong"]


ClientMessage = Annotated[
    Auth | Subscribe | Unsubscribe | Viewport | Ping | Pong, Field(discriminator="type")
]
_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse(text: str | bytes) -> ClientMessage:
    """One client frame; raises ValueError (pydantic's ValidationError is one) when bad."""
    return _adapter.validate_json(text)


def frame(**fields: object) -> str:
    return orjson.dumps(fields).decode()


def error(message: str) -> str:
    return frame(type="error", message=message)


def resync(channel: str, reason: str) -> str:
    return frame(type="resync", channel=channel, reason=reason)


PING = frame(type="ping")
PONG = frame(type="pong")


class Event:
    """One published event, serialised once: `frame` is shared by every client it goes to."""

    __slots__ = ("channel", "seq", "data", "frame", "point", "bbox", "key")

    def __init__(self, channel: str, seq: int, data: dict, frame: str) -> None:
        self.channel = channel
        self.seq = seq
        self.data = data
        self.frame = frame
        self.point, self.bbox = locate(data) if channel in SPATIAL else (None, None)
        # Coalescing key: a newer position of the same vehicle replaces a queued older one.
        vid = data.get("vehicle_id") if channel == POSITIONS else None
        self.key = None if vid is None else str(vid)

    @classmethod
    def build(cls, channel: str, seq: int, data: dict) -> Event:
        text = orjson.dumps({"type": "event", "channel": channel, "seq": seq, "data": data})
        return cls(channel, seq, data, text.decode())

    @classmethod
    def from_frame(cls, text: str) -> Event:
        """An event serialised by another process (the redis backplane): parsed, not re-encoded."""
        obj = orjson.loads(text)
        return cls(obj["channel"], obj["seq"], obj["data"], text)


def locate(data: dict) -> tuple[tuple[float, float] | None, BBox | None]:
    """Where an event is: a point (`lon`/`lat`) or a `bbox`; neither means 'everywhere'."""
    try:
        if "lon" in data and "lat" in data:
            return (float(data["lon"]), float(data["lat"])), None
        if "bbox" in data:
            w, s, e, n = (float(v) for v in data["bbox"])
            return None, (w, s, e, n)
    except (TypeError, ValueError):
        pass
    return None, None


@dataclass(frozen=True, slots=True)
class Revocation:
    """Sessions ended: one (`session`, the hex SHA-256 of its token: a logout) or all of a
    user's (`session` None: disabled, roles or password changed)."""

    user_id: int
    session: str | None
    reason: str

    def encode(self) -> bytes:
        return orjson.dumps({"user_id": self.user_id, "session": self.session,
                             "reason": self.reason})

    @classmethod
    def decode(cls, raw: bytes | str) -> Revocation:
        obj = orjson.loads(raw)
        session = obj.get("session")
        return cls(int(obj["user_id"]), None if session is None else str(session),
                   str(obj.get("reason") or "revoked")[:64])
