"""The fleet register as the rules and line operations see it: which vehicle is on which line,
the line's path and ordered stops in metres. Read from `vehicles`, `bus_lines` and
`bus_line_stops`, kept in memory and re-read after `ttl_s` (a vehicle not yet known is looked
for again after `miss_ttl_s`, so a bus registered a moment ago is picked up at once). Every
context also carries the roads' posted speed limits and the geofences of the configured polygon
layers (both re-read after `roads_ttl_s`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import sqlalchemy as sa
from shapely import wkb

from backend.catalog.layers import LayerCatalog
from backend.errors import NotConfigured
from backend.ingest.jt808.trust import phone_key
from backend.ingest.position import Position
from backend.settings import Settings
from backend.vehicles.road_limits import RoadSpeedLimits
from backend.vehicles.rules import Geofence, LineGeometry, RuleContext
from backend.vehicles.rules.context import prepared as projected

# A car that only lends its positions to the traffic speeds (a private car, a floating-car
# feed): stored and map-matched, but never listed, pushed, tracked, found near a case or
# given alarms one by one; where one private car is, is personal.
PROBE_CLASS = "probe"


@dataclass(frozen=True, slots=True)
class GeofenceSource:
    """A polygon layer whose features are geofences (settings.vehicle_geofence_layers)."""

    layer_id: str
    table: str        # from the layer catalog, a checked identifier
    name_column: str  # a checked identifier: the layer's `name` field, else source_key


@dataclass(frozen=True, slots=True)
class FleetVehicle:
    vehicle_id: str
    label: str | None
    plate: str | None
    vehicle_class: str
    line_id: int | None
    line_code: str | None


@dataclass(frozen=True, slots=True)
class LineStop:
    seq: int
    stop_id: int
    code: str
    name: str
    lon: float
    lat: float
    distance_m: float  # along the line from its start


@dataclass(frozen=True, slots=True)
class FleetLine:
    id: int
    code: str
    name: str
    color: str | None
    geometry: LineGeometry         # path and stops in EPSG:4548
    stops: tuple[LineStop, ...]    # in order along the line


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    vehicles: dict[str, FleetVehicle]
    lines: dict[int, FleetLine]
    contexts: dict[str, RuleContext]
    default: RuleContext  # a vehicle not in the register: a bus on no line


def load_geofences(conn: sa.Connection, sources: Sequence[GeofenceSource]
                   ) -> tuple[Geofence, ...]:
    fences = []
    for src in sources:
        query = (f'SELECT id, "{src.name_column}"::text, ST_AsBinary(geom) '  # noqa: S608
                 f'FROM "{src.table}" ORDER BY id')
        for fid, name, raw in conn.execute(sa.text(query)):
            fences.append(Geofence.make(f"{src.layer_id}:{fid}", name or str(fid),
                                        wkb.loads(bytes(raw))))
    return tuple(fences)


def load_fleet(conn: sa.Connection, roads: RoadSpeedLimits | None = None,
               geofences: tuple[Geofence, ...] = ()) -> FleetSnapshot:
    limit_at = roads.limit_at if roads is not None else None
    stops: dict[int, list[LineStop]] = {}
    for r in conn.execute(sa.text(
        "SELECT ls.line_id, ls.seq, s.id, s.code, s.name, ST_X(s.geom), ST_Y(s.geom), "
        "ls.distance_m FROM bus_line_stops ls JOIN bus_stops s ON s.id = ls.stop_id "
        "ORDER BY ls.line_id, ls.seq"
    )):
        stops.setdefault(r[0], []).append(LineStop(*r[1:]))
    lines: dict[int, FleetLine] = {}
    for line_id, code, name, color, raw in conn.execute(sa.text(
        "SELECT id, code, name, color, ST_AsBinary(geom) FROM bus_lines"
    )):
        own = tuple(stops.get(line_id, ()))
        path = list(wkb.loads(bytes(raw)).coords)
        geometry = LineGeometry.from_lonlat(str(line_id), path, [(s.lon, s.lat) for s in own])
        lines[line_id] = FleetLine(line_id, code, name, color, geometry, own)
    vehicles: dict[str, FleetVehicle] = {}
    contexts: dict[str, RuleContext] = {}
    for r in conn.execute(sa.text(
        "SELECT v.vehicle_id, v.label, v.plate, v.vehicle_class, v.line_id, l.code "
        "FROM vehicles v LEFT JOIN bus_lines l ON l.id = v.line_id WHERE v.active"
    )):
        v = FleetVehicle(*r)
        vehicles[v.vehicle_id] = v
        line = lines.get(v.line_id) if v.line_id is not None else None
        contexts[v.vehicle_id] = RuleContext(
            vehicle_class=v.vehicle_class, line=line.geometry if line else None,
            geofences=geofences, speed_limit_kmh=limit_at)
    return FleetSnapshot(vehicles, lines, contexts,
                         RuleContext(geofences=geofences, speed_limit_kmh=limit_at))


class FleetDirectory:
    """Thread-safe cached view of the fleet register (the pipeline runs on worker threads)."""

    def __init__(self, engine: sa.Engine, *, ttl_s: float = 30.0, miss_ttl_s: float = 1.0,
                 roads_ttl_s: float = 600.0, geofences: Sequence[GeofenceSource] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.geofence_sources = tuple(geofences)
        self.ttl_s = ttl_s
        self.miss_ttl_s = miss_ttl_s
        self.roads_ttl_s = roads_ttl_s
        self.clock = clock
        self._snapshot: FleetSnapshot | None = None
        self._loaded_at = float("-inf")
        self._roads: RoadSpeedLimits | None = None
        self._fences: tuple[Geofence, ...] = ()
        self._roads_at = float("-inf")
        self._lock = threading.Lock()
        self._pinned = threading.local()  # the snapshot of the batch in `prepared`

    def snapshot(self, *, wanted: str | None = None) -> FleetSnapshot:
        with self._lock:
            age = self.clock() - self._loaded_at
            stale = self._snapshot is None or age > self.ttl_s or (
                wanted is not None and wanted not in self._snapshot.vehicles
                and age > self.miss_ttl_s)
            if stale:
                with self.engine.connect() as conn:
                    if self.clock() - self._roads_at > self.roads_ttl_s:
                        self._roads = RoadSpeedLimits.load(conn)
                        self._fences = load_geofences(conn, self.geofence_sources)
                        self._roads_at = self.clock()
                    self._snapshot = load_fleet(conn, self._roads, self._fences)
                self._loaded_at = self.clock()
            assert self._snapshot is not None
            return self._snapshot

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")

    @contextmanager
    def prepared(self, positions: Sequence[Position]) -> Iterator[None]:
        """Run a batch's rules within this: the fixes are projected and matched to the roads'
        limits in one vectorised pass each (same answers as one fix at a time)."""
        # One snapshot for the batch (no lock and clock per fix); a vehicle it does not know
        # is still looked for (`snapshot(wanted=...)`).
        self._pinned.snapshot = self.snapshot()
        roads = self._roads
        try:
            with projected(positions), (roads.prepared(positions) if roads is not None
                                        else nullcontext()):
                yield
        finally:
            self._pinned.snapshot = None

    def context_for(self, vehicle_id: str) -> RuleContext:
        pinned: FleetSnapshot | None = getattr(self._pinned, "snapshot", None)
        if pinned is not None:
            context = pinned.contexts.get(vehicle_id)
            if context is not None:
                return context
        snapshot = self.snapshot(wanted=vehicle_id)
        return snapshot.contexts.get(vehicle_id, snapshot.default)

    def shown(self, vehicle_id: str) -> bool:
        """Whether a vehicle is followed one by one (not a probe)."""
        return self.context_for(vehicle_id).vehicle_class != PROBE_CLASS

    def vehicle(self, vehicle_id: str) -> FleetVehicle | None:
        return self.snapshot(wanted=vehicle_id).vehicles.get(vehicle_id)

    def line(self, line_id: int) -> FleetLine | None:
        return self.snapshot().lines.get(line_id)

    def vehicles_on(self, line_id: int) -> list[FleetVehicle]:
        return [v for v in self.snapshot().vehicles.values() if v.line_id == line_id]


def register_vehicles(conn: sa.Connection, rows: Sequence[dict[str, object]]) -> int:
    """Upsert fleet-register rows: vehicle_id, label, plate, vehicle_class, line_code, and the
    JT/T 808 terminal it carries (terminal_phone, terminal_id; left as they are when not
    given). Only a vehicle with a terminal_phone may register its terminal with the gateway."""
    if not rows:
        return 0
    params = []
    for r in rows:
        row: dict[str, object] = {"plate": None, "vehicle_class": "bus", "operator": None,
                                  "terminal_phone": None, "terminal_id": None, **r}
        if row["terminal_phone"] is not None:
            row["terminal_phone"] = phone_key(str(row["terminal_phone"]))
        params.append(row)
    result = conn.execute(sa.text("""
INSERT INTO vehicles (vehicle_id, label, plate, vehicle_class, line_id, operator,
  terminal_phone, terminal_id)
SELECT :vehicle_id, :label, :plate, :vehicle_class,
  (SELECT id FROM bus_lines WHERE code = :line_code), :operator, :terminal_phone, :terminal_id
ON CONFLICT (vehicle_id) DO UPDATE SET label = EXCLUDED.label, plate = EXCLUDED.plate,
  vehicle_class = EXCLUDED.vehicle_class, line_id = EXCLUDED.line_id,
  operator = EXCLUDED.operator, active = true, updated_at = now(),
  terminal_phone = COALESCE(EXCLUDED.terminal_phone, vehicles.terminal_phone),
  terminal_id = COALESCE(EXCLUDED.terminal_id, vehicles.terminal_id)"""), params)
    return result.rowcount


def geofence_sources(settings: Settings, catalog: LayerCatalog) -> list[GeofenceSource]:
    """The configured geofence layers, checked against the catalog (polygon layers only)."""
    sources = []
    for layer_id in settings.vehicle_geofence_layers:
        spec = catalog.get(layer_id)
        polygons = [s.id for s in catalog.layers if s.geometry == "polygon" and s.has_features]
        if spec is None or spec.id not in polygons:
            raise NotConfigured(
                f"CITYOPS_VEHICLE_GEOFENCE_LAYERS names {layer_id!r}, which is not a polygon "
                f"layer; polygon layers: {', '.join(polygons)}")
        name = "name" if "name" in spec.field_names else "source_key"
        sources.append(GeofenceSource(spec.id, spec.source.table, name))
    return sources
