/**
 * The replay on the map: its sources and layers (the line with its casing, the stops, the
 * window's alarms as markers bright while active, the buses as the shared bus symbol), drawing
 * the buses at their interpolated positions for an instant, and removing it all again.
 * The replay bar and its controls are in replay.ts, the payload and interpolation in replayData.ts.
 */

import type { GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';
import { kindName } from './alarmKinds';
import type { Alarm } from './alarmStore';
import { addBusIcon } from './busIcon';
import { busSymbolLayer } from './busSymbol';
import { getLang, type Lang } from './i18n';
import { positionAt, type BusAt, type ReplayVehicle } from './replayData';

const SRC_LINE = 'replay-line';
const SRC_STOPS = 'replay-stops';
const SRC_BUSES = 'replay-buses';
const SRC_ALARMS = 'replay-alarms';
const LAYERS = ['replay-line-casing', 'replay-line', 'replay-stops', 'replay-alarms', 'replay-alarm-labels', 'replay-buses'];
/** The replayed buses' colour, and a line's when it has none. */
export const BUS_COLOR = '#ffd54f';
const SEVERITY_COLORS: Record<string, string> = { critical: '#ff4d4f', warning: '#ffa940', info: '#4fc3f7' };
const FONT = ['Noto Sans CJK SC Regular'];

/** Where each bus is at `time` (epoch ms); a bus without fixes around it is left out. */
export function busesAt(vehicles: ReplayVehicle[], time: number): BusAt[] {
  const buses: BusAt[] = [];
  for (const v of vehicles) {
    const at = positionAt(v, time);
    if (at) buses.push(at);
  }
  return buses;
}

export function setReplayBuses(map: MapLibreMap, buses: BusAt[]): void {
  map.getSource<GeoJSONSource>(SRC_BUSES)?.setData({
    type: 'FeatureCollection',
    features: buses.map((b) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [b.lon, b.lat] },
      properties: { vehicle_id: b.vehicle_id, label: b.label, heading: b.heading },
    })),
  });
}

/** The alarms with a position, named in `lang`, each `active` while it is raised at `time`. */
export function replayAlarmFeatures(alarms: Alarm[], time: number, lang: Lang = getLang()): GeoJSON.FeatureCollection {
  const features: GeoJSON.Feature[] = [];
  for (const a of alarms) {
    if (typeof a.lon !== 'number' || typeof a.lat !== 'number') continue;
    const start = Date.parse(a.started_at ?? a.raised_at ?? '');
    const end = a.cleared_at ? Date.parse(a.cleared_at) : Infinity;
    const active = Number.isFinite(start) && start <= time && time <= Math.max(end, start + 60_000);
    features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [a.lon, a.lat] },
      properties: { id: a.id, kind: a.kind, name: kindName(a.kind, lang), severity: a.severity, active },
    });
  }
  return { type: 'FeatureCollection', features };
}

export function setReplayAlarms(map: MapLibreMap, alarms: GeoJSON.FeatureCollection): void {
  map.getSource<GeoJSONSource>(SRC_ALARMS)?.setData(alarms);
}

/** Replaces what the replay drew with the line and its stops, and empty alarms and buses. */
export function drawReplayStatic(map: MapLibreMap, line: GeoJSON.FeatureCollection, stops: GeoJSON.FeatureCollection, lineColor: string): void {
  clearReplayMap(map);
  addBusIcon(map);
  const empty: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };
  map.addSource(SRC_LINE, { type: 'geojson', data: line });
  map.addSource(SRC_STOPS, { type: 'geojson', data: stops });
  map.addSource(SRC_ALARMS, { type: 'geojson', data: empty });
  map.addSource(SRC_BUSES, { type: 'geojson', data: empty });
  map.addLayer({ id: 'replay-line-casing', type: 'line', source: SRC_LINE, layout: { 'line-join': 'round', 'line-cap': 'round' }, paint: { 'line-color': '#04101c', 'line-width': 8, 'line-opacity': 0.8 } });
  map.addLayer({ id: 'replay-line', type: 'line', source: SRC_LINE, layout: { 'line-join': 'round', 'line-cap': 'round' }, paint: { 'line-color': lineColor, 'line-width': 4 } });
  map.addLayer({
    id: 'replay-stops',
    type: 'circle',
    source: SRC_STOPS,
    paint: { 'circle-radius': 4, 'circle-color': '#ffffff', 'circle-stroke-color': lineColor, 'circle-stroke-width': 2 },
  });
  map.addLayer({
    id: 'replay-alarms',
    type: 'circle',
    source: SRC_ALARMS,
    paint: {
      'circle-radius': ['case', ['get', 'active'], 11, 7],
      'circle-color': ['match', ['get', 'severity'], 'critical', SEVERITY_COLORS.critical!, 'warning', SEVERITY_COLORS.warning!, SEVERITY_COLORS.info!],
      'circle-opacity': ['case', ['get', 'active'], 0.55, 0.18],
      'circle-stroke-color': ['match', ['get', 'severity'], 'critical', SEVERITY_COLORS.critical!, 'warning', SEVERITY_COLORS.warning!, SEVERITY_COLORS.info!],
      'circle-stroke-width': 2,
      'circle-stroke-opacity': ['case', ['get', 'active'], 1, 0.45],
    },
  });
  map.addLayer({
    id: 'replay-alarm-labels',
    type: 'symbol',
    source: SRC_ALARMS,
    layout: { 'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 11, 'text-offset': [0, -1.6], 'text-anchor': 'bottom', 'text-optional': true },
    paint: { 'text-color': '#ffd0d0', 'text-halo-color': '#04101c', 'text-halo-width': 1.4, 'text-opacity': ['case', ['get', 'active'], 1, 0.55] },
  });
  map.addLayer(
    busSymbolLayer({ id: 'replay-buses', source: SRC_BUSES, sizes: [0.6, 0.8, 1.05], labelZoom: 12, iconColor: BUS_COLOR, textColor: '#fff3c4' }),
  );
}

export function clearReplayMap(map: MapLibreMap): void {
  for (const id of LAYERS) if (map.getLayer(id)) map.removeLayer(id);
  for (const id of [SRC_LINE, SRC_STOPS, SRC_ALARMS, SRC_BUSES]) if (map.getSource(id)) map.removeSource(id);
}
