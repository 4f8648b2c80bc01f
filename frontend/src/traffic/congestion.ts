/**
 * The congestion overlay: every directed road segment as a line coloured by its level, each
 * direction drawn on its own right-hand side (line-offset along the segment's direction of
 * travel), pilot segments wider over a light casing, the selected one glowing. Loaded from
 * `GET /api/traffic/segments.geojson` and then kept live by `traffic.segments` events, which
 * only set feature states (no new GeoJSON upload per event). A day replay sets a `replay`
 * state that wins over the live level until it is cleared.
 */

import type { ExpressionSpecification, GeoJSONSource, Map as MapLibreMap, MapGeoJSONFeature } from 'maplibre-gl';
import { getJSON } from '../api';
import { uiScale } from '../mapScale';
import { LEVEL_COLORS, levelOf, num, type Level, type SegmentCollection, type SegmentProps, type SegmentUpdate } from './types';

export const CONGESTION_SOURCE = 'traffic-congestion';
export const CONGESTION_LAYER = 'traffic-levels';
const PILOT_LAYER = 'traffic-pilot-casing';
const SELECTED_LAYER = 'traffic-selected';
const LAYERS = [SELECTED_LAYER, PILOT_LAYER, CONGESTION_LAYER];
/** Below this the seat is a few pixels wide: thousands of sub-pixel lines tell nothing and cost a
 *  wall's first frame (drawn on the CPU here) most of its time. */
export const MIN_ZOOM = 11;
/** The overlay's style layers (clicks on them are the traffic view's). */
export const CONGESTION_LAYERS: readonly string[] = LAYERS;

const LEVEL_NOW: ExpressionSpecification = [
  'coalesce', ['feature-state', 'replay'], ['feature-state', 'level'], ['get', 'level'],
];
const IS_PILOT: ExpressionSpecification = ['!=', ['coalesce', ['get', 'pilot_code'], ''], ''];

/** Width by zoom, pilot segments wider, times the interface's scale (a 4K wall: thicker). */
function width(extra: number, k: number): ExpressionSpecification {
  return ['interpolate', ['linear'], ['zoom'],
    10, ['case', IS_PILOT, (2.5 + extra) * k, (1.2 + extra) * k],
    14, ['case', IS_PILOT, (5 + extra) * k, (3 + extra) * k],
    18, ['case', IS_PILOT, (11 + extra) * k, (8 + extra) * k]];
}

/** About half a line's width to the right of travel: the two directions lie side by side. */
function offset(k: number): ExpressionSpecification {
  return ['interpolate', ['linear'], ['zoom'], 10, 0.8 * k, 14, 2.2 * k, 18, 5.5 * k];
}

function colorByLevel(): ExpressionSpecification {
  return ['match', LEVEL_NOW,
    1, LEVEL_COLORS[1], 2, LEVEL_COLORS[2], 3, LEVEL_COLORS[3], 4, LEVEL_COLORS[4], 5, LEVEL_COLORS[5],
    LEVEL_COLORS[0]];
}

type Coords = GeoJSON.Position[];

function sameXY(a: GeoJSON.Position | undefined, b: GeoJSON.Position | undefined): boolean {
  return !!a && !!b && a[0] === b[0] && a[1] === b[1];
}

/**
 * Each backward segment runs against its road's drawn direction: if the server sent it with the
 * road's own coordinates (same first point as its forward twin), reverse them, so that a positive
 * line-offset (to the right of travel) puts every direction on its own side of the road.
 */
export function orientSegments(data: SegmentCollection): SegmentCollection {
  const firstOf = new Map<number, GeoJSON.Position | undefined>();
  for (const f of data.features) {
    if (f.properties?.forward && f.geometry?.type === 'LineString') firstOf.set(f.properties.road_id, f.geometry.coordinates[0]);
  }
  const features = data.features.map((f) => {
    const p = f.properties;
    if (!p || p.forward || f.geometry?.type !== 'LineString') return f;
    const coords = f.geometry.coordinates;
    if (!sameXY(coords[0], firstOf.get(p.road_id))) return f;
    return { ...f, geometry: { type: 'LineString' as const, coordinates: [...coords].reverse() } };
  });
  return { ...data, features };
}

export function cleanProps(raw: Partial<SegmentProps> | null | undefined): SegmentProps | null {
  const segment = num(raw?.segment);
  if (!raw || segment === null) return null;
  return {
    segment,
    road_id: num(raw.road_id) ?? segment >> 1,
    forward: typeof raw.forward === 'boolean' ? raw.forward : (segment & 1) === 0,
    name: typeof raw.name === 'string' && raw.name ? raw.name : null,
    road_class: typeof raw.road_class === 'string' ? raw.road_class : '',
    length_m: num(raw.length_m) ?? 0,
    pilot_code: typeof raw.pilot_code === 'string' && raw.pilot_code ? raw.pilot_code : null,
    speed_kmh: num(raw.speed_kmh),
    typical_kmh: num(raw.typical_kmh),
    vehicles: num(raw.vehicles) ?? 0,
    level: levelOf(raw.level),
  };
}

export class CongestionLayer {
  /** What the console knows of each segment now (live, not the replay). */
  readonly segments = new Map<number, SegmentProps>();
  private readonly bounds = new Map<number, [number, number, number, number]>();
  private data: SegmentCollection = { type: 'FeatureCollection', features: [] };
  private readonly reasons: { layer: boolean | null; mode: boolean } = { layer: null, mode: false };
  private replaying = false;
  private selected: number | null = null;
  private readonly listeners = new Set<() => void>();
  /** When the live levels were last set (server time of the event or load). */
  time: string | null = null;

  constructor(private readonly map: MapLibreMap) {}

  get visible(): boolean {
    return this.reasons.layer ?? this.reasons.mode;
  }

  /** Called after a load and after each live update (panels showing segment values). */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** The catalog's congestion row decides when the catalog has one; otherwise the traffic mode. */
  setVisible(reason: 'layer' | 'mode', visible: boolean): void {
    this.reasons[reason] = visible;
    this.applyVisibility();
  }

  /** Adds source and layers beneath `beneath` (the live buses), or moves them there. */
  place(beneath?: string): void {
    const map = this.map;
    const before = beneath && map.getLayer(beneath) ? beneath : undefined;
    if (!map.getSource(CONGESTION_SOURCE)) {
      map.addSource(CONGESTION_SOURCE, { type: 'geojson', data: this.data, promoteId: 'segment' });
      const layout = { 'line-cap': 'round', 'line-join': 'round' } as const;
      const k = uiScale();
      map.addLayer({
        id: SELECTED_LAYER, type: 'line', source: CONGESTION_SOURCE, layout, minzoom: MIN_ZOOM,
        filter: ['==', ['get', 'segment'], -1],
        paint: { 'line-color': '#00e5ff', 'line-width': width(9, k), 'line-offset': offset(k), 'line-blur': 3, 'line-opacity': 0.9 },
      }, before);
      map.addLayer({
        id: PILOT_LAYER, type: 'line', source: CONGESTION_SOURCE, layout, filter: IS_PILOT, minzoom: MIN_ZOOM,
        paint: { 'line-color': '#f4f8ff', 'line-width': width(3, k), 'line-offset': offset(k), 'line-opacity': 0.85 },
      }, before);
      map.addLayer({
        id: CONGESTION_LAYER, type: 'line', source: CONGESTION_SOURCE, layout, minzoom: MIN_ZOOM,
        // Unknown (too few vehicles) stays faint: the measured levels are what the eye should find.
        paint: {
          'line-color': colorByLevel(), 'line-width': width(0, k), 'line-offset': offset(k),
          'line-opacity': ['case', ['==', LEVEL_NOW, 0], 0.4, 0.95],
        },
      }, before);
      this.applyVisibility();
      this.select(this.selected);
    } else if (before) {
      for (const id of LAYERS) map.moveLayer(id, before);
    }
  }

  private applyVisibility(): void {
    for (const id of LAYERS) {
      if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', this.visible ? 'visible' : 'none');
    }
  }

  /** Loads every segment within `bbox` with its current level. */
  async load(bbox: [number, number, number, number], signal?: AbortSignal): Promise<void> {
    const query = new URLSearchParams({ bbox: bbox.map((v) => v.toFixed(5)).join(',') });
    const body = await getJSON<SegmentCollection>(`/api/traffic/segments.geojson?${query}`, signal ? { signal } : {});
    const features = (Array.isArray(body?.features) ? body.features : []).flatMap((f) => {
      const props = cleanProps(f?.properties);
      return props && f.geometry ? [{ ...f, id: props.segment, properties: props }] : [];
    });
    this.data = orientSegments({ type: 'FeatureCollection', features });
    this.segments.clear();
    this.bounds.clear();
    for (const f of this.data.features) {
      this.segments.set(f.properties.segment, f.properties);
      this.bounds.set(f.properties.segment, boundsOf(f.geometry));
    }
    this.map.getSource<GeoJSONSource>(CONGESTION_SOURCE)?.setData(this.data);
    // The new data carries the levels: stale live states would hide them.
    this.map.removeFeatureState({ source: CONGESTION_SOURCE });
    if (this.replaying) this.replaying = false;
    this.changed();
  }

  /** One `traffic.segments` event: the levels, speeds and vehicle counts that changed. */
  applyEvent(data: Record<string, unknown>): void {
    const updates = Array.isArray(data.segments) ? (data.segments as SegmentUpdate[]) : [];
    for (const u of updates) {
      const segment = num(u?.segment);
      if (segment === null) continue;
      const known = this.segments.get(segment);
      if (!known) continue; // outside what was loaded: the next load brings it
      const next: SegmentProps = { ...known, level: levelOf(u.level), speed_kmh: num(u.speed_kmh), vehicles: num(u.vehicles) ?? 0 };
      this.segments.set(segment, next);
      if (this.map.getSource(CONGESTION_SOURCE)) this.map.setFeatureState({ source: CONGESTION_SOURCE, id: segment }, { level: next.level });
    }
    if (typeof data.time === 'string') this.time = data.time;
    this.changed();
  }

  /** The replay's levels for one bucket (segments without one are unknown), or null: live again. */
  setReplayLevels(levels: Record<string, number> | null): void {
    if (!this.map.getSource(CONGESTION_SOURCE)) return;
    if (levels === null) {
      if (!this.replaying) return;
      this.replaying = false;
      for (const segment of this.segments.keys()) {
        this.map.removeFeatureState({ source: CONGESTION_SOURCE, id: segment }, 'replay');
      }
      return;
    }
    this.replaying = true;
    for (const segment of this.segments.keys()) {
      this.map.setFeatureState({ source: CONGESTION_SOURCE, id: segment }, { replay: levelOf(levels[String(segment)]) });
    }
  }

  /** The level drawn for a segment now (the replay's while one is shown). */
  drawnLevel(segment: number): Level {
    const state = this.map.getSource(CONGESTION_SOURCE) ? this.map.getFeatureState({ source: CONGESTION_SOURCE, id: segment }) : {};
    return levelOf(state.replay ?? state.level ?? this.segments.get(segment)?.level);
  }

  select(segment: number | null): void {
    this.selected = segment;
    if (this.map.getLayer(SELECTED_LAYER)) this.map.setFilter(SELECTED_LAYER, ['==', ['get', 'segment'], segment ?? -1]);
  }

  /** [w, s, e, n] of a segment (or of several), null when none is loaded. */
  boundsOf(segments: number[]): [number, number, number, number] | null {
    let out: [number, number, number, number] | null = null;
    for (const s of segments) {
      const b = this.bounds.get(s);
      if (!b) continue;
      out = out ? [Math.min(out[0], b[0]), Math.min(out[1], b[1]), Math.max(out[2], b[2]), Math.max(out[3], b[3])] : [...b];
    }
    return out;
  }

  /** The segment under a point of the screen (the nearest drawn one), or null. */
  segmentAt(point: { x: number; y: number }, tolerance = 5): number | null {
    if (!this.visible || !this.map.getLayer(CONGESTION_LAYER)) return null;
    const hits: MapGeoJSONFeature[] = this.map.queryRenderedFeatures(
      [[point.x - tolerance, point.y - tolerance], [point.x + tolerance, point.y + tolerance]],
      { layers: [CONGESTION_LAYER] },
    );
    const id = num(hits[0]?.properties?.segment);
    return id;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

function boundsOf(geometry: GeoJSON.LineString | GeoJSON.MultiLineString): [number, number, number, number] {
  const lines: Coords[] = geometry.type === 'LineString' ? [geometry.coordinates] : geometry.coordinates;
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  for (const line of lines) {
    for (const [x, y] of line) {
      if (x === undefined || y === undefined) continue;
      w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
    }
  }
  return [w, s, e, n];
}
