/**
 * The replay's data and its pure parts: the `GET /api/lines/{id}/replay` payload, and where each
 * bus is at a given instant (linear interpolation between fixes, heading along the shorter arc).
 */

import type { Alarm } from './alarmStore';

/** One fix: [epoch_ms, lon, lat, speed_kmh, heading_deg]. */
export type ReplayPoint = [number, number, number, number | null, number | null];

export interface ReplayVehicle {
  vehicle_id: string;
  label?: string | null;
  points: ReplayPoint[];
}

export interface LineSummary {
  id: number;
  code: string;
  name: string;
  color: string | null;
  length_m?: number | null;
  stops?: number;
  vehicles?: number;
  online?: number;
}

export interface ReplayPayload {
  line?: Partial<LineSummary> | null;
  geometry?: GeoJSON.Geometry | GeoJSON.Feature | GeoJSON.FeatureCollection | null;
  stops?: unknown[];
  from?: string;
  to?: string;
  vehicles?: ReplayVehicle[];
  alarms?: Alarm[];
}

export interface BusAt {
  vehicle_id: string;
  label: string;
  lon: number;
  lat: number;
  heading: number;
  speed_kmh: number | null;
}

/**
 * Fixes further apart than this are not joined (the bus had no signal, or was off); it is shown
 * at its last fix for that long, then hidden. Generous, because the server simplifies tracks for
 * the zoom: a straight run keeps only its ends, which may be many minutes apart.
 */
export const MAX_GAP_MS = 20 * 60_000;

function lerp(a: number, b: number, f: number): number {
  return a + (b - a) * f;
}

/** Interpolates headings along the shorter way round (350° -> 10° passes north). */
export function lerpAngle(a: number, b: number, f: number): number {
  const delta = ((((b - a) % 360) + 540) % 360) - 180;
  return (((a + delta * f) % 360) + 360) % 360;
}

/** Index of the last point at or before `t` (-1 when `t` is before the first). */
export function pointIndex(points: ReplayPoint[], t: number): number {
  let lo = 0;
  let hi = points.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((points[mid]?.[0] ?? Infinity) <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Where `vehicle` is at `t`, or null when it has no fix near that instant. */
export function positionAt(vehicle: ReplayVehicle, t: number): BusAt | null {
  const points = vehicle.points;
  const i = pointIndex(points, t);
  const a = points[i];
  const b = points[i + 1];
  let lon: number;
  let lat: number;
  let heading: number;
  let speed: number | null;
  if (!a) return null; // before its first fix
  if (!b) {
    if (t - a[0] > MAX_GAP_MS) return null; // after its last fix
    [, lon, lat, speed] = a;
    heading = a[4] ?? 0;
  } else if (b[0] - a[0] > MAX_GAP_MS) {
    if (t - a[0] > MAX_GAP_MS) return null; // in a long gap
    [, lon, lat, speed] = a;
    heading = a[4] ?? 0;
  } else {
    const span = b[0] - a[0];
    const f = span > 0 ? (t - a[0]) / span : 0;
    lon = lerp(a[1], b[1], f);
    lat = lerp(a[2], b[2], f);
    heading = lerpAngle(a[4] ?? 0, b[4] ?? a[4] ?? 0, f);
    speed = a[3] !== null && b[3] !== null ? lerp(a[3], b[3], f) : a[3];
  }
  return { vehicle_id: vehicle.vehicle_id, label: vehicle.label || vehicle.vehicle_id, lon, lat, heading, speed_kmh: speed };
}

/** Points sorted by time, malformed ones dropped. */
export function cleanVehicles(vehicles: unknown): ReplayVehicle[] {
  if (!Array.isArray(vehicles)) return [];
  const out: ReplayVehicle[] = [];
  for (const v of vehicles as Partial<ReplayVehicle>[]) {
    if (!v || typeof v.vehicle_id !== 'string' || !Array.isArray(v.points)) continue;
    const points = v.points
      .filter((p) => Array.isArray(p) && p.length >= 3 && p.slice(0, 3).every((x) => typeof x === 'number' && Number.isFinite(x)))
      .map((p) => [p[0], p[1], p[2], typeof p[3] === 'number' ? p[3] : null, typeof p[4] === 'number' ? p[4] : null] as ReplayPoint)
      .sort((a, b) => a[0] - b[0]);
    if (points.length) out.push({ vehicle_id: v.vehicle_id, label: v.label ?? null, points });
  }
  return out;
}

/** The line's geometry as a FeatureCollection (the payload may send a geometry or a feature). */
export function lineFeatures(geometry: ReplayPayload['geometry']): GeoJSON.FeatureCollection {
  if (!geometry) return { type: 'FeatureCollection', features: [] };
  if (geometry.type === 'FeatureCollection') return geometry;
  if (geometry.type === 'Feature') return { type: 'FeatureCollection', features: [geometry] };
  return { type: 'FeatureCollection', features: [{ type: 'Feature', geometry, properties: {} }] };
}

/** Stops as points: `{lon, lat, name}`, `{geometry}` or GeoJSON features are all accepted. */
export function stopFeatures(stops: unknown[] | undefined): GeoJSON.FeatureCollection {
  const features: GeoJSON.Feature[] = [];
  for (const raw of stops ?? []) {
    const s = raw as Record<string, unknown>;
    if (!s || typeof s !== 'object') continue;
    let coords: [number, number] | null = null;
    if (typeof s.lon === 'number' && typeof s.lat === 'number') coords = [s.lon, s.lat];
    const geometry = s.geometry as GeoJSON.Point | undefined;
    if (!coords && geometry?.type === 'Point') coords = geometry.coordinates as [number, number];
    if (!coords) continue;
    const props = (s.properties as Record<string, unknown> | undefined) ?? s;
    features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: coords },
      properties: { name: typeof props.name === 'string' ? props.name : '' },
    });
  }
  return { type: 'FeatureCollection', features };
}

/** The bounds of everything in the replay, for fitting the map: [w, s, e, n] or null. */
export function replayBounds(
  line: GeoJSON.FeatureCollection,
  vehicles: ReplayVehicle[],
): [number, number, number, number] | null {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  const add = (x: number, y: number): void => {
    w = Math.min(w, x);
    e = Math.max(e, x);
    s = Math.min(s, y);
    n = Math.max(n, y);
  };
  const walk = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === 'number' && typeof c[1] === 'number') add(c[0], c[1]);
    else if (Array.isArray(c)) c.forEach(walk);
  };
  for (const f of line.features) if (f.geometry && 'coordinates' in f.geometry) walk(f.geometry.coordinates);
  for (const v of vehicles) for (const p of v.points) add(p[1], p[2]);
  return Number.isFinite(w) ? [w, s, e, n] : null;
}
