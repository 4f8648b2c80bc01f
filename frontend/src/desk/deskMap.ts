/**
 * The desk on the map: the open cases as dots (red overdue, amber urgent, cyan otherwise), the
 * selected case ringed, the search radius around it (dashed), and the grid workers (green),
 * vehicles (violet) and cameras (yellow; grey when offline or faulty) near it. The desk's layers
 * stay above the catalog's and the buses (moved to the top whenever they are drawn).
 */

import type { GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';
import { FINAL } from './names';
import type { Incident, Nearby } from './types';

const CASES = 'desk-cases';
const NEARBY = 'desk-nearby';
export const DESK_LAYERS = ['desk-radius', 'desk-cases', 'desk-selected', 'desk-nearby'] as const;
export const DESK_COLORS = {
  overdue: '#ef5350',
  urgent: '#ffb74d',
  normal: '#4fc3f7',
  worker: '#66bb6a',
  vehicle: '#b388ff',
  camera: '#fff176',
  cameraOff: '#90a4ae',
};

type FC = GeoJSON.FeatureCollection;
const EMPTY: FC = { type: 'FeatureCollection', features: [] };

function point(lon: number, lat: number, properties: Record<string, unknown>): GeoJSON.Feature {
  return { type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties };
}

/** A ring of `metres` around a point (fine for a few km: equirectangular). */
export function ring(lon: number, lat: number, metres: number, steps = 72): GeoJSON.Feature {
  const coords: [number, number][] = [];
  const dLat = metres / 111_320;
  const dLon = metres / (111_320 * Math.cos((lat * Math.PI) / 180));
  for (let i = 0; i <= steps; i += 1) {
    const a = (2 * Math.PI * i) / steps;
    coords.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return { type: 'Feature', geometry: { type: 'LineString', coordinates: coords }, properties: { kind: 'radius' } };
}

export class DeskMap {
  private added = false;
  private loaded = false;
  private cases: FC = EMPTY;
  private near: FC = EMPTY;
  private visible = true;

  constructor(private readonly map: MapLibreMap) {
    // Created before the map has loaded (main.ts builds the desk right after the map).
    map.once('load', () => {
      this.loaded = true;
      this.draw();
    });
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    this.draw();
  }

  setCases(queue: Incident[], selectedId: number | null): void {
    this.cases = {
      type: 'FeatureCollection',
      features: queue
        .filter((c) => !FINAL.has(c.state) && Number.isFinite(c.lon) && Number.isFinite(c.lat))
        .map((c) =>
          point(c.lon, c.lat, {
            id: c.id,
            case_no: c.case_no,
            level: c.overdue ? 'overdue' : c.urgency === 'urgent' ? 'urgent' : 'normal',
            selected: c.id === selectedId,
          }),
        ),
    };
    this.draw();
  }

  setNearby(selected: Incident | null, nearby: Nearby | null, radius: number): void {
    const features: GeoJSON.Feature[] = [];
    if (selected) {
      features.push(ring(selected.lon, selected.lat, radius));
      features.push(point(selected.lon, selected.lat, { kind: 'case' }));
    }
    if (nearby && selected && nearby.incident.id === selected.id) {
      for (const w of nearby.workers) {
        if (w.lon !== null && w.lat !== null) features.push(point(w.lon, w.lat, { kind: 'worker', name: w.username }));
      }
      for (const v of nearby.vehicles) features.push(point(v.lon, v.lat, { kind: 'vehicle', name: v.vehicle_id }));
      for (const c of nearby.cameras)
        features.push(point(c.lon, c.lat, { kind: 'camera', name: c.code, on: c.status === 'online' }));
    }
    this.near = { type: 'FeatureCollection', features };
    this.draw();
  }

  /** Features the map actually shows (end-to-end tests). */
  rendered(): Record<string, unknown>[] {
    if (!this.added) return [];
    return this.map
      .queryRenderedFeatures({ layers: [...DESK_LAYERS] })
      .map((f) => ({ layer: f.layer.id, ...f.properties }));
  }

  /** Pixels of the map's left side hidden under the desk (the focus centres in the rest). */
  coveredLeft: () => number = () => 0;

  focus(lon: number, lat: number, zoom = 15): void {
    const offset: [number, number] = [Math.round(this.coveredLeft() / 2), 0];
    this.map.flyTo({ center: [lon, lat], zoom: Math.max(this.map.getZoom(), zoom), offset, duration: 900 });
  }

  private draw(): void {
    if (!this.loaded) return;
    if (!this.added) this.add();
    (this.map.getSource(CASES) as GeoJSONSource | undefined)?.setData(this.visible ? this.cases : EMPTY);
    (this.map.getSource(NEARBY) as GeoJSONSource | undefined)?.setData(this.visible ? this.near : EMPTY);
    this.raise();
  }

  /** Keeps the desk's layers on top of what was added since (catalog, buses). */
  private raise(): void {
    const order = this.map.getLayersOrder();
    const top = order.slice(-DESK_LAYERS.length);
    if (top.join() === DESK_LAYERS.join()) return;
    for (const id of DESK_LAYERS) if (this.map.getLayer(id)) this.map.moveLayer(id);
  }

  private add(): void {
    const map = this.map;
    map.addSource(CASES, { type: 'geojson', data: EMPTY });
    map.addSource(NEARBY, { type: 'geojson', data: EMPTY });
    map.addLayer({
      id: 'desk-radius',
      type: 'line',
      source: NEARBY,
      filter: ['==', ['get', 'kind'], 'radius'],
      paint: { 'line-color': '#ffffff', 'line-opacity': 0.75, 'line-width': 1.5, 'line-dasharray': [3, 2] },
    });
    map.addLayer({
      id: 'desk-cases',
      type: 'circle',
      source: CASES,
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 3, 14, 6, 18, 9],
        'circle-color': [
          'match',
          ['get', 'level'],
          'overdue',
          DESK_COLORS.overdue,
          'urgent',
          DESK_COLORS.urgent,
          DESK_COLORS.normal,
        ],
        'circle-stroke-color': '#06111d',
        'circle-stroke-width': 1.2,
        'circle-opacity': 0.95,
      },
    });
    map.addLayer({
      id: 'desk-selected',
      type: 'circle',
      source: NEARBY,
      filter: ['==', ['get', 'kind'], 'case'],
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 9, 14, 13, 18, 17],
        'circle-color': 'rgba(0, 0, 0, 0)',
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 2.5,
      },
    });
    map.addLayer({
      id: 'desk-nearby',
      type: 'circle',
      source: NEARBY,
      filter: ['match', ['get', 'kind'], ['worker', 'vehicle', 'camera'], true, false],
      paint: {
        'circle-radius': ['match', ['get', 'kind'], 'camera', 4.5, 6],
        'circle-color': [
          'match',
          ['get', 'kind'],
          'worker',
          DESK_COLORS.worker,
          'vehicle',
          DESK_COLORS.vehicle,
          ['case', ['get', 'on'], DESK_COLORS.camera, DESK_COLORS.cameraOff],
        ],
        'circle-stroke-color': '#06111d',
        'circle-stroke-width': 1.5,
      },
    });
    this.added = true;
  }
}
