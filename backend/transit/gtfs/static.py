"""The static GTFS feed, built from `bus_lines`, `bus_stops`, `bus_line_stops` and the timetable.

Ids are derived from codes, never from row order, so they are the same in every build and in
the GTFS-Realtime feed: route_id = the line's code ("1路"), stop_id = the stop's code
("SX-S0001"), shape_id = "<route_id>-<direction_id>", trip_id =
"<route_id>-<service_id>-<direction_id>-<HHMM of the first departure>", service_id = the
timetable's service name. Direction 0 runs along the line's geometry (stop seq ascending),
direction 1 back. The same data gives the same bytes: rows in a fixed order, the csv module,
fixed zip entry times.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import threading
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from pyproj import Transformer
from shapely import wkb

from backend.catalog.timetable import WEEKDAYS, Timetable, TimetableError, parse_timetable
from backend.errors import NotConfigured

log = logging.getLogger("cityops.gtfs")

METRIC_CRS = "EPSG:4548"  # CGCS2000 3-degree Gauss-Krueger CM 117E, the zone Sixian lies in
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed entry times: same data, same bytes
ROUTE_TYPE_BUS = 3

COLUMNS: dict[str, tuple[str, ...]] = {
    "agency.txt": ("agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang",
                   "agency_phone"),
    "stops.txt": ("stop_id", "stop_code", "stop_name", "stop_lat", "stop_lon", "location_type"),
    "routes.txt": ("route_id", "agency_id", "route_short_name", "route_long_name", "route_type",
                   "route_color", "route_text_color"),
    "trips.txt": ("route_id", "service_id", "trip_id", "trip_headsign", "direction_id",
                  "shape_id"),
    "stop_times.txt": ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence",
                       "shape_dist_traveled", "timepoint"),
    "calendar.txt": ("service_id", "monday", "tuesday", "wednesday", "thursday", "friday",
                     "saturday", "sunday", "start_date", "end_date"),
    "shapes.txt": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence",
                   "shape_dist_traveled"),
    "feed_info.txt": ("feed_publisher_name", "feed_publisher_url", "feed_lang",
                      "feed_start_date", "feed_end_date", "feed_version", "feed_contact_email"),
}


# The network as stored ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NetStop:
    code: str
    name: str
    lon: float
    lat: float
    distance_m: float  # along the line from its start (bus_line_stops.distance_m)


@dataclass(frozen=True, slots=True)
class NetLine:
    code: str
    name: str
    color: str | None
    length_m: float | None
    path: tuple[tuple[float, float], ...]  # lon, lat (EPSG:4326)
    stops: tuple[NetStop, ...]             # in seq order


def load_network(conn: sa.Connection) -> dict[str, NetLine]:
    """Every bus line with its path and ordered stops, by code."""
    stops: dict[int, list[NetStop]] = {}
    for line_id, *row in conn.execute(sa.text(
        "SELECT ls.line_id, s.code, s.name, ST_X(s.geom), ST_Y(s.geom), ls.distance_m "
        "FROM bus_line_stops ls JOIN bus_stops s ON s.id = ls.stop_id ORDER BY ls.line_id, ls.seq"
    )):
        stops.setdefault(line_id, []).append(NetStop(*row))
    lines = {}
    for line_id, code, name, color, length_m, raw in conn.execute(sa.text(
        "SELECT id, code, name, color, length_m, ST_AsBinary(geom) FROM bus_lines ORDER BY code"
    )):
        path = tuple((float(x), float(y)) for x, y, *_ in wkb.loads(bytes(raw)).coords)
        lines[code] = NetLine(code, name, color, length_m, path, tuple(stops.get(line_id, ())))
    return lines


def network_digest(lines: dict[str, NetLine]) -> str:
    canonical = json.dumps(
        [[ln.code, ln.name, ln.color, ln.length_m, ln.path,
          [[s.code, s.name, s.lon, s.lat, s.distance_m] for s in ln.stops]]
         for ln in sorted(lines.values(), key=lambda ln: ln.code)],
        ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# The feed model -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Route:
    route_id: str
    short_name: str
    long_name: str
    color: str | None
    path: tuple[tuple[float, float], ...]  # direction 0, lon/lat
    length_ref_m: float  # the line's length in distance_m units (bus_lines.length_m)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One direction of one route: its stops, their distances and times from the start."""

    route_id: str
    direction_id: int
    shape_id: str
    headsign: str
    stop_ids: tuple[str, ...]
    line_m: tuple[float, ...]      # each stop's bus_line_stops.distance_m (along direction 0)
    run_m: tuple[float, ...]       # distance travelled from the first stop of this direction
    shape_dist: tuple[float, ...]  # each stop along this direction's shape (metres)
    arrive_s: tuple[int, ...]      # after the trip's first departure
    depart_s: tuple[int, ...]
    shape: tuple[tuple[float, float, float], ...]  # lon, lat, shape_dist_traveled

    @property
    def duration_s(self) -> int:
        return self.arrive_s[-1]


@dataclass(frozen=True, slots=True)
class Trip:
    trip_id: str
    service_id: str
    start_s: int  # first departure, seconds past midnight of the service day
    pattern: Pattern

    @property
    def end_s(self) -> int:
        return self.start_s + self.pattern.duration_s


@dataclass(frozen=True)
class Feed:
    timetable: Timetable
    start_date: date
    end_date: date
    routes: tuple[Route, ...]
    stops: tuple[NetStop, ...]   # the stops the routes serve, by code
    patterns: tuple[Pattern, ...]
    trips: tuple[Trip, ...]
    problems: tuple[str, ...] = ()  # lines left out, and why

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.timetable.agency.timezone)

    def services_on(self, day: date) -> set[str]:
        if not self.start_date <= day <= self.end_date:
            return set()
        weekday = WEEKDAYS[day.weekday()]
        return {sid for sid, days in self.timetable.calendar.services.items() if weekday in days}


def natural_key(code: str) -> tuple:
    """'2路' before '10路'."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in re.findall(r"\d+|\D+", code))


@lru_cache(maxsize=1)
def _to_metric() -> Transformer:
    return Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)


def metric(path: Sequence[tuple[float, float]]) -> np.ndarray:
    """lon/lat pairs -> EPSG:4548 metres, an (n, 2) array."""
    lon, lat = np.asarray(path, dtype=float).T
    x, y = _to_metric().transform(lon, lat)
    return np.column_stack([x, y])


def _shape(path: Sequence[tuple[float, float]]) -> list[tuple[float, float, float]]:
    """The path with each point's distance from its start in metres (0.1 m), without points
    that would not advance the distance (so shape_dist_traveled strictly increases)."""
    xy = metric(path)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    out: list[tuple[float, float, float]] = []
    for (lon, lat), d in zip(path, cum, strict=True):
        d = round(float(d), 1)
        if out and d <= out[-1][2]:
            continue
        out.append((lon, lat, d))
    return out


def _pattern(line: NetLine, direction: int, speed_ms: float, dwell_s: int) -> Pattern:
    stops = line.stops if direction == 0 else tuple(reversed(line.stops))
    shape = _shape(line.path if direction == 0 else tuple(reversed(line.path)))
    shape_len = shape[-1][2]
    length_ref = line.length_m or max(line.stops[-1].distance_m, 1.0)
    scale = shape_len / length_ref  # distance_m units -> metres along the shape
    first = stops[0].distance_m
    run = [abs(s.distance_m - first) for s in stops]
    arrive, depart = [], []
    for k, d in enumerate(run):
        a = 0 if k == 0 else round(d / speed_ms + dwell_s * (k - 1))
        arrive.append(a)
        depart.append(a + dwell_s if 0 < k < len(run) - 1 else a)
    along = [s.distance_m * scale for s in stops]
    if direction == 1:
        along = [shape_len - d for d in along]
    return Pattern(
        route_id=line.code, direction_id=direction, shape_id=f"{line.code}-{direction}",
        headsign=stops[-1].name, stop_ids=tuple(s.code for s in stops),
        line_m=tuple(s.distance_m for s in stops), run_m=tuple(run),
        shape_dist=tuple(min(max(round(d, 1), 0.0), shape_len) for d in along),
        arrive_s=tuple(arrive), depart_s=tuple(depart), shape=tuple(shape))


def _line_problem(line: NetLine) -> str | None:
    if len(line.stops) < 2:
        return f"line {line.code}: fewer than 2 stops in bus_line_stops"
    if len(line.path) < 2:
        return f"line {line.code}: its geometry has fewer than 2 points"
    d = [s.distance_m for s in line.stops]
    if any(b < a for a, b in zip(d, d[1:], strict=False)):
        return f"line {line.code}: bus_line_stops.distance_m decreases along seq"
    if d[-1] <= d[0]:
        return f"line {line.code}: its stops do not advance along the line"
    return None


def hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}{seconds % 3600 // 60:02d}"


def build_feed(lines: dict[str, NetLine], timetable: Timetable, today: date) -> Feed:
    """The feed model (pure): lines in the timetable and the database, trips in both
    directions for every service of each line."""
    start, end = timetable.calendar.period(today)
    problems = []
    routes, patterns, trips = [], [], []
    for code in sorted(set(timetable.lines) - set(lines), key=natural_key):
        problems.append(f"line {code}: in the timetable but not in bus_lines")
    for code in sorted(set(lines) - set(timetable.lines), key=natural_key):
        problems.append(f"line {code}: in bus_lines but not in the timetable")
    for code in sorted(set(lines) & set(timetable.lines), key=natural_key):
        line, spec = lines[code], timetable.lines[code]
        problem = _line_problem(line)
        if problem:
            problems.append(problem)
            continue
        routes.append(Route(code, code, line.name, line.color, line.path,
                            line.length_m or line.stops[-1].distance_m))
        for direction in (0, 1):
            pattern = _pattern(line, direction, spec.speed_kmh / 3.6, timetable.dwell_s(code))
            patterns.append(pattern)
            for service in spec.services:
                for dep in timetable.pattern(code, service).departures():
                    trips.append(Trip(f"{code}-{service}-{direction}-{hhmm(dep)}", service, dep,
                                      pattern))
    used = {sid for p in patterns for sid in p.stop_ids}
    stops = {s.code: s for ln in lines.values() for s in ln.stops if s.code in used}
    for p in problems:
        log.warning("GTFS: %s (left out of the feed)", p)
    return Feed(timetable, start, end, tuple(routes), tuple(stops[c] for c in sorted(stops)),
                tuple(patterns), tuple(trips), tuple(problems))


# Writing ------------------------------------------------------------------------------------

def clock(seconds: int) -> str:
    """Seconds past midnight of the service day -> 'HH:MM:SS' (HH may pass 24)."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _text_color(color: str) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return "000000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "FFFFFF"


def _color(value: str | None) -> str:
    value = (value or "").lstrip("#").upper()
    return value if re.fullmatch(r"[0-9A-F]{6}", value) else ""


def _csv(name: str, rows: Iterable[Sequence[object]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS[name])
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def feed_files(feed: Feed) -> dict[str, bytes]:
    """Every file of the feed, in the order they are zipped."""
    tt = feed.timetable
    agency, info = tt.agency, tt.feed
    files = {
        "agency.txt": _csv("agency.txt", [[agency.id, agency.name, agency.url, agency.timezone,
                                           agency.lang, agency.phone or ""]]),
        "stops.txt": _csv("stops.txt", [[s.code, s.code, s.name, f"{s.lat:.6f}", f"{s.lon:.6f}",
                                         0] for s in feed.stops]),
        "routes.txt": _csv("routes.txt", [
            [r.route_id, agency.id, r.short_name, r.long_name, ROUTE_TYPE_BUS, _color(r.color),
             _text_color(_color(r.color)) if _color(r.color) else ""] for r in feed.routes]),
        "trips.txt": _csv("trips.txt", [
            [t.pattern.route_id, t.service_id, t.trip_id, t.pattern.headsign,
             t.pattern.direction_id, t.pattern.shape_id] for t in feed.trips]),
        "stop_times.txt": _csv("stop_times.txt", (
            [t.trip_id, clock(t.start_s + a), clock(t.start_s + d), sid, k + 1, f"{sd:.1f}",
             1 if k == 0 else 0]
            for t in feed.trips
            for k, (sid, a, d, sd) in enumerate(zip(t.pattern.stop_ids, t.pattern.arrive_s,
                                                    t.pattern.depart_s, t.pattern.shape_dist,
                                                    strict=True)))),
        "calendar.txt": _csv("calendar.txt", [
            [sid, *(int(day in days) for day in WEEKDAYS), feed.start_date.strftime("%Y%m%d"),
             feed.end_date.strftime("%Y%m%d")]
            for sid, days in tt.calendar.services.items()]),
        "shapes.txt": _csv("shapes.txt", [
            [p.shape_id, f"{lat:.6f}", f"{lon:.6f}", k + 1, f"{d:.1f}"]
            for p in feed.patterns for k, (lon, lat, d) in enumerate(p.shape)]),
    }
    version = hashlib.sha256(b"".join(files.values())).hexdigest()[:12]
    files["feed_info.txt"] = _csv("feed_info.txt", [[
        info.publisher_name, info.publisher_url, info.lang, feed.start_date.strftime("%Y%m%d"),
        feed.end_date.strftime("%Y%m%d"), version, info.contact_email or ""]])
    return files


def write_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3  # unix, whatever machine builds it
            entry.external_attr = 0o100644 << 16
            zf.writestr(entry, data, compresslevel=6)
    return buf.getvalue()


# The served feed ----------------------------------------------------------------------------

@dataclass(frozen=True)
class BuiltFeed:
    etag: str       # from the inputs: the network, the timetable and the calendar period
    feed: Feed
    filename: str
    _zip: list[bytes] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def zip_bytes(self) -> bytes:
        """Written on first use (the realtime feed needs only the model)."""
        with self._lock:
            if not self._zip:
                self._zip.append(write_zip(feed_files(self.feed)))
            return self._zip[0]


class StaticGtfs:
    """The current static feed: the network and the timetable are read on each call (a few
    small queries), the feed is built again only when they changed. Thread-safe."""

    def __init__(self, engine: sa.Engine, timetable_path: Path,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.timetable_path = timetable_path
        self.now = now
        self._lock = threading.Lock()
        self._timetable: tuple[bytes, Timetable] | None = None
        self._built: BuiltFeed | None = None

    def _load_timetable(self) -> tuple[bytes, Timetable]:
        path = self.timetable_path
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise NotConfigured(f"The GTFS timetable {path} cannot be read ({exc.strerror}): "
                                "set CITYOPS_GTFS_TIMETABLE to a timetable YAML file") from exc
        if self._timetable is None or self._timetable[0] != raw:
            label = f"{path.parent.name}/{path.name}"
            try:
                self._timetable = (raw, parse_timetable(raw.decode("utf-8", "replace"), label))
            except TimetableError as exc:
                raise NotConfigured(f"The GTFS timetable is not valid: {exc}",
                                    problems=exc.problems) from exc
        return self._timetable

    def current(self) -> BuiltFeed:
        with self.engine.connect() as conn:
            lines = load_network(conn)
        with self._lock:
            raw, timetable = self._load_timetable()
            today = self.now().astimezone(ZoneInfo(timetable.agency.timezone)).date()
            period = timetable.calendar.period(today)
            key = hashlib.sha256(b"\0".join([
                network_digest(lines).encode(), raw, str(period).encode()])).hexdigest()
            etag = f'"gtfs-{key[:20]}"'
            if self._built is None or self._built.etag != etag:
                feed = build_feed(lines, timetable, today)
                self._built = BuiltFeed(etag, feed, f"{timetable.agency.id}-gtfs.zip")
            return self._built
