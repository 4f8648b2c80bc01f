/**
 * Live buses on the map: one GeoJSON source fed by `GET /api/vehicles` (at start and on resync)
 * and by `vehicles.positions` events, drawn as a symbol layer (the runtime-drawn puck rotated by
 * `heading_deg`, coloured by status, labelled at higher zooms) over a red halo for buses with
 * an alarm; a bus whose alarm nobody has acknowledged yet also gets a pulsing ring (a DOM marker
 * animated by CSS, so the map itself is not repainted every frame and still goes idle). Events
 * are merged into memory at once and drawn at most once per
 * animation frame (and at most every FLUSH_MIN_MS), so hundreds of buses at 1 Hz stay smooth.
 *
 * Status: `alarm` while the vehicle has an active alarm (from the alarm list), else `offline`
 * when it has been silent for more than OFFLINE_AFTER_MS (or the server says so and no newer fix
 * came), else `normal`.
 */

import maplibregl, { type GeoJSONSource, type Map as MapLibreMap, type MapGeoJSONFeature } from 'maplibre-gl';
import { getJSON, isStatus } from './api';
import { addBusIcon } from './busIcon';
import { busSymbolLayer } from './busSymbol';
import { t } from './i18n';
import { POSITIONS_CHANNEL, type LiveConnection } from './live';
import { describeError, toast } from './toast';

export type BusStatus = 'normal' | 'alarm' | 'offline';

/** What the console knows of one vehicle (the values of `window.__buses`). */
export interface BusProps {
  vehicle_id: string;
  label: string;
  plate: string | null;
  vehicle_class: string | null;
  line_id: number | null;
  line_code: string | null;
  time: string;
  lon: number;
  lat: number;
  speed_kmh: number | null;
  heading_deg: number | null;
  status: BusStatus;
  alarms: string[];
  source: string | null;
}

/** `GET /api/vehicles` items. */
export interface VehicleRecord {
  vehicle_id: string;
  label?: string | null;
  plate?: string | null;
  vehicle_class?: string | null;
  line_id?: number | null;
  line_code?: string | null;
  time?: string | null;
  lon?: number | null;
  lat?: number | null;
  speed_kmh?: number | null;
  heading_deg?: number | null;
  status?: BusStatus;
  alarms?: string[];
}

/** The active alarms of a vehicle as the alarm list knows them (null: the list is unavailable). */
export type AlarmLookup = (vehicleId: string) => { kinds: string[]; unacknowledged: boolean } | null;

export const BUS_SOURCE = 'live-buses';
export const BUS_LAYER = 'live-buses';
export const BUS_PULSE_LAYER = 'live-buses-pulse';
export const OFFLINE_AFTER_MS = 120_000;
export const STATUS_COLORS: Record<BusStatus, string> = {
  normal: '#1de9b6',
  alarm: '#ff4d4f',
  offline: '#7d8b99',
};
const FLUSH_MIN_MS = 150;
const OFFLINE_CHECK_MS = 5_000;
/** A bus the console had not seen makes it reload the fleet (label, plate, line) after this
 *  delay, which gathers the newcomers of a burst into one request ... */
const UNKNOWN_RELOAD_DELAY_MS = 1_000;
/** ... and no more often than this. */
const UNKNOWN_RELOAD_MIN_MS = 3_000;

declare global {
  interface Window {
    /** vehicle_id -> the last properties drawn for it (end-to-end tests). */
    __buses?: Map<string, BusProps>;
  }
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value ? value : null;
}

export class BusLayer {
  readonly vehicles = new Map<string, BusProps>();
  private readonly times = new Map<string, number>();
  private readonly serverOffline = new Set<string>();
  private readonly restAlarms = new Map<string, string[]>();
  private alarmLookup: AlarmLookup = () => null;
  private inView: (lon: number, lat: number) => boolean = () => true;
  private frame = 0;
  private flushTimer = 0;
  private lastFlush = 0;
  private readonly rings = new Map<string, maplibregl.Marker>();
  private visible = true;
  private added = false;
  private available: boolean | null = null; // null until /api/vehicles answered
  private loading: Promise<void> | null = null;
  private lastReload = 0;
  private unknownTimer = 0;
  private readonly listeners = new Set<(bus: BusProps) => void>();
  private readonly reloadListeners = new Set<() => void>();

  constructor(private readonly map: MapLibreMap) {
    window.__buses = this.vehicles;
  }

  /** Adds the source and layers (on top of everything already on the map). */
  addTo(): void {
    const map = this.map;
    addBusIcon(map);
    map.addSource(BUS_SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    map.addLayer({
      id: BUS_PULSE_LAYER,
      type: 'circle',
      source: BUS_SOURCE,
      filter: ['==', ['get', 'status'], 'alarm'],
      paint: {
        'circle-color': STATUS_COLORS.alarm,
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 8, 16, 15],
        'circle-opacity': 0.25,
        'circle-blur': 0.4,
        'circle-pitch-alignment': 'map',
      },
    });
    map.addLayer(
      busSymbolLayer({
        id: BUS_LAYER,
        source: BUS_SOURCE,
        sizes: [0.6, 0.9, 1.25],
        labelZoom: 13,
        iconColor: ['match', ['get', 'status'], 'alarm', STATUS_COLORS.alarm, 'offline', STATUS_COLORS.offline, STATUS_COLORS.normal],
        textColor: ['match', ['get', 'status'], 'alarm', '#ffb3b3', 'offline', '#aab6c2', '#d9fff5'],
        layout: { 'symbol-sort-key': ['get', 'rank'], 'text-allow-overlap': false },
      }),
    );
    this.added = true;
    window.setInterval(() => this.checkOffline(), OFFLINE_CHECK_MS);
    this.scheduleFlush();
  }

  /** Subscribes to `vehicles.positions` (following the map's viewport). */
  connect(live: LiveConnection): void {
    live.subscribe(POSITIONS_CHANNEL, {
      followViewport: true,
      onEvent: (data) => this.applyPosition(data),
      onResync: () => void this.reload(),
    });
  }

  /** Where the alarm list tells which vehicles have active alarms. */
  setAlarmLookup(lookup: AlarmLookup): void {
    this.alarmLookup = lookup;
    this.refreshStatuses();
  }

  /** Where live positions arrive from (the subscribed viewport): a bus outside it is not
   *  turned offline for being silent, since the server does not send its fixes. */
  setViewFilter(inView: (lon: number, lat: number) => boolean): void {
    this.inView = inView;
  }

  /** Called with a vehicle's new properties after each change (the bus popup follows it). */
  onChange(listener: (bus: BusProps) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after each REST load of the fleet. */
  onReload(listener: () => void): void {
    this.reloadListeners.add(listener);
  }

  /** Shows or hides the live buses (hidden while a replay plays). */
  setVisible(visible: boolean): void {
    this.visible = visible;
    for (const id of [BUS_LAYER, BUS_PULSE_LAYER]) {
      if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    }
    this.updateRings();
  }

  get isAvailable(): boolean | null {
    return this.available;
  }

  labelOf(vehicleId: string): string {
    return this.vehicles.get(vehicleId)?.label ?? vehicleId;
  }

  /** The bus features under a point of the screen. */
  featuresAt(point: { x: number; y: number }, tolerance = 6): MapGeoJSONFeature[] {
    if (!this.visible || !this.map.getLayer(BUS_LAYER)) return [];
    return this.map.queryRenderedFeatures(
      [
        [point.x - tolerance, point.y - tolerance],
        [point.x + tolerance, point.y + tolerance],
      ],
      { layers: [BUS_LAYER] },
    );
  }

  /** Reloads the fleet's state over REST (start, resync, an unknown vehicle appeared). */
  reload(): Promise<void> {
    if (this.loading) return this.loading;
    this.lastReload = Date.now();
    this.loading = (async () => {
      try {
        const body = await getJSON<{ vehicles?: VehicleRecord[] }>('/api/vehicles');
        this.available = true;
        for (const record of body.vehicles ?? []) {
          if (this.applyRecord(record)) this.changed(record.vehicle_id);
        }
        this.refreshStatuses();
        for (const listener of this.reloadListeners) listener();
      } catch (err) {
        if (isStatus(err, 404, 403)) {
          this.available = false; // no fleet endpoint on this server, or not for this user
        } else if (!isStatus(err, 401)) {
          toast(t('busesUnavailable'), describeError(err));
        }
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** What another request learnt about one vehicle (e.g. the bus popup's detail). */
  learn(record: VehicleRecord): void {
    if (!this.applyRecord(record)) return;
    this.changed(record.vehicle_id);
    for (const listener of this.reloadListeners) listener();
  }

  /** Merges one REST record; true when something shown changed. */
  private applyRecord(r: VehicleRecord): boolean {
    if (!r || typeof r.vehicle_id !== 'string') return false;
    const id = r.vehicle_id;
    const known = this.vehicles.get(id);
    const restTime = r.time ? Date.parse(r.time) : NaN;
    const lon = num(r.lon);
    const lat = num(r.lat);
    const newer = !known || (Number.isFinite(restTime) && restTime >= (this.times.get(id) ?? -Infinity));
    if (!known && (lon === null || lat === null)) return false; // never seen anywhere: nothing to draw
    const base: BusProps = known ?? {
      vehicle_id: id,
      label: id,
      plate: null,
      vehicle_class: null,
      line_id: null,
      line_code: null,
      time: r.time ?? '',
      lon: lon ?? 0,
      lat: lat ?? 0,
      speed_kmh: null,
      heading_deg: null,
      status: 'normal',
      alarms: [],
      source: null,
    };
    const next: BusProps = {
      ...base,
      label: str(r.label) ?? base.label,
      plate: str(r.plate) ?? base.plate,
      vehicle_class: str(r.vehicle_class) ?? base.vehicle_class,
      line_id: num(r.line_id) ?? base.line_id,
      line_code: str(r.line_code) ?? base.line_code,
    };
    if (newer && lon !== null && lat !== null) {
      next.lon = lon;
      next.lat = lat;
      next.time = r.time ?? next.time;
      next.speed_kmh = num(r.speed_kmh);
      next.heading_deg = num(r.heading_deg);
      if (Number.isFinite(restTime)) this.times.set(id, restTime);
      if (r.status === 'offline') this.serverOffline.add(id);
      else this.serverOffline.delete(id);
    }
    this.restAlarms.set(id, Array.isArray(r.alarms) ? r.alarms.filter((k) => typeof k === 'string') : []);
    this.vehicles.set(id, next);
    return (
      !known ||
      known.label !== next.label ||
      known.plate !== next.plate ||
      known.line_code !== next.line_code ||
      known.time !== next.time
    );
  }

  /** One `vehicles.positions` event. */
  applyPosition(data: Record<string, unknown>): void {
    const id = str(data.vehicle_id);
    const lon = num(data.lon);
    const lat = num(data.lat);
    const time = str(data.time);
    if (!id || lon === null || lat === null || !time) return;
    const ms = Date.parse(time);
    if (!Number.isFinite(ms)) return;
    if (ms < (this.times.get(id) ?? -Infinity)) return; // late (backfill, replayed history)
    this.times.set(id, ms);
    this.serverOffline.delete(id);
    const known = this.vehicles.get(id);
    const next: BusProps = {
      vehicle_id: id,
      label: known?.label ?? id,
      plate: known?.plate ?? null,
      vehicle_class: known?.vehicle_class ?? null,
      line_id: known?.line_id ?? null,
      line_code: known?.line_code ?? null,
      time,
      lon,
      lat,
      speed_kmh: num(data.speed_kmh),
      heading_deg: num(data.heading_deg),
      status: known?.status ?? 'normal',
      alarms: known?.alarms ?? [],
      source: str(data.source),
    };
    this.vehicles.set(id, this.withStatus(next));
    if (!known) this.learnAbout();
    this.changed(id);
  }

  /** Reloads the fleet soon, to learn the label, plate and line of a bus seen for the first time. */
  private learnAbout(): void {
    if (this.available === false || this.unknownTimer) return;
    const wait = Math.max(UNKNOWN_RELOAD_DELAY_MS, this.lastReload + UNKNOWN_RELOAD_MIN_MS - Date.now());
    this.unknownTimer = window.setTimeout(() => {
      this.unknownTimer = 0;
      void this.reload();
    }, wait);
  }

  /** Recomputes every vehicle's status (after the alarm list changed). */
  refreshStatuses(): void {
    for (const [id, bus] of this.vehicles) {
      const next = this.withStatus(bus);
      if (next.status !== bus.status || next.alarms.join() !== bus.alarms.join()) {
        this.vehicles.set(id, next);
        this.changed(id);
      }
    }
    this.scheduleFlush();
  }

  private withStatus(bus: BusProps): BusProps {
    const known = this.alarmLookup(bus.vehicle_id);
    const alarms = known ? known.kinds : (this.restAlarms.get(bus.vehicle_id) ?? []);
    const silent = Date.now() - (this.times.get(bus.vehicle_id) ?? 0) > OFFLINE_AFTER_MS;
    const offline = this.serverOffline.has(bus.vehicle_id) || (silent && (bus.status === 'offline' || this.inView(bus.lon, bus.lat)));
    const status: BusStatus = alarms.length ? 'alarm' : offline ? 'offline' : 'normal';
    return { ...bus, status, alarms };
  }

  private checkOffline(): void {
    for (const [id, bus] of this.vehicles) {
      const next = this.withStatus(bus);
      if (next.status !== bus.status) {
        this.vehicles.set(id, next);
        this.changed(id);
      }
    }
  }

  private changed(id: string): void {
    const bus = this.vehicles.get(id);
    if (bus) for (const listener of this.listeners) listener(bus);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.added || this.frame || this.flushTimer) return;
    const wait = FLUSH_MIN_MS - (performance.now() - this.lastFlush);
    const request = (): void => {
      this.flushTimer = 0;
      this.frame = requestAnimationFrame(() => this.flush());
    };
    if (wait > 0) this.flushTimer = window.setTimeout(request, wait);
    else request();
  }

  private flush(): void {
    this.frame = 0;
    this.lastFlush = performance.now();
    const source = this.map.getSource<GeoJSONSource>(BUS_SOURCE);
    if (!source) return;
    const features: GeoJSON.Feature<GeoJSON.Point>[] = [];
    for (const bus of this.vehicles.values()) {
      const lookup = this.alarmLookup(bus.vehicle_id);
      const pulse = bus.status === 'alarm' && (lookup ? lookup.unacknowledged : true);
      features.push({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [bus.lon, bus.lat] },
        properties: {
          vehicle_id: bus.vehicle_id,
          label: bus.label,
          status: bus.status,
          heading: bus.heading_deg ?? 0,
          rank: bus.status === 'alarm' ? 2 : bus.status === 'normal' ? 1 : 0,
          pulse,
        },
      });
    }
    source.setData({ type: 'FeatureCollection', features });
    this.updateRings();
  }

  /** A pulsing ring on each bus with an unacknowledged alarm (and only while shown). */
  private updateRings(): void {
    const wanted = new Set<string>();
    if (this.visible && this.added) {
      for (const bus of this.vehicles.values()) {
        if (bus.status !== 'alarm') continue;
        const lookup = this.alarmLookup(bus.vehicle_id);
        if (lookup && !lookup.unacknowledged) continue;
        wanted.add(bus.vehicle_id);
        const marker = this.rings.get(bus.vehicle_id);
        if (!marker) {
          // MapLibre moves the marker's element with `transform`: the animation is inside.
          const element = document.createElement('div');
          element.className = 'bus-alarm-marker';
          element.dataset.vehicleId = bus.vehicle_id;
          const ring = document.createElement('div');
          ring.className = 'bus-alarm-ring';
          element.append(ring);
          const added = new maplibregl.Marker({ element, pitchAlignment: 'map' });
          added.setLngLat([bus.lon, bus.lat]).addTo(this.map);
          this.rings.set(bus.vehicle_id, added);
        } else {
          marker.setLngLat([bus.lon, bus.lat]);
        }
      }
    }
    for (const [id, ring] of this.rings) {
      if (!wanted.has(id)) {
        ring.remove();
        this.rings.delete(id);
      }
    }
  }
}
