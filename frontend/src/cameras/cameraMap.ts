/**
 * The cameras on the map, beyond what the catalog's tiles draw: live status without reloading
 * tiles (a camera whose status changed since the tiles came is hidden from the tile layer and
 * drawn from a small GeoJSON overlay with its new colour), the selected camera ringed, and view
 * cones from the catalog's `cameras_view` tiles: the selected camera's always, every camera's
 * from zoom 17.
 */

import type { ExpressionSpecification, FilterSpecification, GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';
import { styleLayerIds, type Catalog, type CatalogLayer } from '../catalog';
import { addCameraIcon } from './icon';
import {
  ALL_CONES_ZOOM, CAMERA_ICON, CAMERAS_LAYER, STATUS_COLORS, VIEWS_LAYER, type CameraStatus, type StatusEvent,
} from './types';

const LIVE = 'cameras-live';
const SELECTED = 'cameras-selected';
const CONE_FILL = 'cameras-cone-fill';
const CONE_LINE = 'cameras-cone-line';
const HIT_PX = 8;

/** MapLibre's colour of a status (the same match the YAML style writes). */
export const STATUS_COLOR: ExpressionSpecification = [
  'match', ['get', 'status'],
  'online', STATUS_COLORS.online,
  'fault', STATUS_COLORS.fault,
  STATUS_COLORS.offline,
];

interface Live {
  lon: number;
  lat: number;
  status: CameraStatus;
  name: string | null;
}

export class CameraMap {
  private pointLayers: string[] = [];
  private baseFilters = new Map<string, FilterSpecification | undefined>();
  private readonly changed = new Map<string, Live>();
  private selected: { code: string; lon: number; lat: number } | null = null;
  private viewsSource: string | null = null;
  private added = false;

  constructor(private readonly map: MapLibreMap) {
    const icon = (): void => addCameraIcon(map);
    if (map.loaded()) icon();
    else map.once('load', icon);
    map.on('styleimagemissing', (e: { id: string }) => {
      if (e.id === CAMERA_ICON) icon();
    });
    map.on('zoomend', () => this.coneFilter());
  }

  /** The style layers of the catalog's camera points (for the click test and the filter). */
  get layers(): string[] {
    return [...this.pointLayers, LIVE];
  }

  /** The catalog is on the map: find the camera layers in it and add the overlay above them. */
  attach(catalog: Catalog): void {
    const cameras: CatalogLayer | undefined = catalog.layers.find((l) => l.id === CAMERAS_LAYER);
    const views = catalog.layers.find((l) => l.id === VIEWS_LAYER && l.tiles);
    this.pointLayers = cameras ? styleLayerIds(cameras).filter((id) => this.map.getLayer(id)) : [];
    for (const id of this.pointLayers) this.baseFilters.set(id, this.map.getFilter(id) ?? undefined);
    this.viewsSource = views && this.map.getSource(views.id) ? views.id : null;
    this.add();
    this.draw();
  }

  /** A `cameras.status` event: the camera's new colour, at once. */
  applyStatus(event: StatusEvent): void {
    if (typeof event.code !== 'string' || !Number.isFinite(event.lon) || !Number.isFinite(event.lat)) return;
    this.changed.set(event.code, { lon: event.lon, lat: event.lat, status: event.status, name: event.name });
    this.draw();
  }

  /** The status the map shows for `code` when a live event changed it. */
  liveStatus(code: string): CameraStatus | null {
    return this.changed.get(code)?.status ?? null;
  }

  select(camera: { code: string; lon: number; lat: number } | null): void {
    this.selected = camera;
    this.draw();
  }

  /** The camera code under `point`, if a camera is drawn there. */
  codeAt(point: { x: number; y: number }): string | null {
    const layers = this.layers.filter((id) => this.map.getLayer(id));
    if (!layers.length) return null;
    const box: [[number, number], [number, number]] = [[point.x - HIT_PX, point.y - HIT_PX], [point.x + HIT_PX, point.y + HIT_PX]];
    const hit = this.map.queryRenderedFeatures(box, { layers })[0];
    const code = hit?.properties?.code;
    return typeof code === 'string' ? code : null;
  }

  /** What the map draws now (end-to-end tests): camera points with their shown status, cones. */
  rendered(): { points: { code: string; status: string; layer: string }[]; cones: string[] } {
    const points = this.map.queryRenderedFeatures({ layers: this.layers.filter((id) => this.map.getLayer(id)) })
      .map((f) => ({ code: String(f.properties.code), status: String(f.properties.status), layer: f.layer.id }));
    const coneLayers = [CONE_FILL].filter((id) => this.map.getLayer(id));
    const cones = coneLayers.length ? this.map.queryRenderedFeatures({ layers: coneLayers }).map((f) => String(f.properties.code)) : [];
    return { points, cones: [...new Set(cones)] };
  }

  private add(): void {
    if (this.added) return;
    const map = this.map;
    addCameraIcon(map);
    const top = this.pointLayers.at(-1);
    const above = top ? map.getStyle().layers[map.getStyle().layers.findIndex((l) => l.id === top) + 1]?.id : undefined;
    if (this.viewsSource) {
      const source = this.viewsSource;
      map.addLayer({
        id: CONE_FILL, type: 'fill', source, 'source-layer': source,
        paint: { 'fill-color': '#ffe066', 'fill-opacity': ['match', ['get', 'view_no'], 0, 0.25, 0.1] },
        filter: ['==', ['get', 'code'], ''],
      }, this.pointLayers[0]);
      map.addLayer({
        id: CONE_LINE, type: 'line', source, 'source-layer': source,
        paint: { 'line-color': '#ffe066', 'line-opacity': 0.8, 'line-width': 1.2 },
        filter: ['==', ['get', 'code'], ''],
      }, this.pointLayers[0]);
    }
    map.addSource(LIVE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    map.addLayer({
      id: SELECTED, type: 'circle', source: LIVE, filter: ['==', ['get', 'kind'], 'selected'],
      paint: { 'circle-radius': 16, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#ffe066', 'circle-stroke-width': 2.5 },
    }, above);
    map.addLayer({
      id: LIVE, type: 'symbol', source: LIVE, filter: ['==', ['get', 'kind'], 'camera'],
      layout: {
        'icon-image': CAMERA_ICON,
        'icon-size': ['interpolate', ['linear'], ['zoom'], 11, 0.45, 16, 0.8, 19, 1],
        'icon-allow-overlap': true,
        'icon-ignore-placement': true,
      },
      paint: { 'icon-color': STATUS_COLOR, 'icon-halo-color': '#06111d', 'icon-halo-width': 1.5 },
    }, above);
    this.added = true;
  }

  private coneFilter(): void {
    if (!this.viewsSource || !this.map.getLayer(CONE_FILL)) return;
    const code = this.selected?.code ?? '';
    const filter: FilterSpecification = this.map.getZoom() >= ALL_CONES_ZOOM ? ['has', 'code'] : ['==', ['get', 'code'], code];
    this.map.setFilter(CONE_FILL, filter);
    this.map.setFilter(CONE_LINE, filter);
  }

  private draw(): void {
    if (!this.added) return;
    const features: GeoJSON.Feature[] = [];
    for (const [code, c] of this.changed) {
      features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [c.lon, c.lat] },
        properties: { kind: 'camera', code, status: c.status, name: c.name } });
    }
    if (this.selected) {
      const { code, lon, lat } = this.selected;
      features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { kind: 'selected', code } });
    }
    (this.map.getSource(LIVE) as GeoJSONSource | undefined)?.setData({ type: 'FeatureCollection', features });
    // The tiles' copy of a changed camera is hidden: its old colour must not show under the new.
    const codes = [...this.changed.keys()];
    for (const id of this.pointLayers) {
      const base = this.baseFilters.get(id);
      const hide: FilterSpecification = ['!', ['in', ['get', 'code'], ['literal', codes]]];
      this.map.setFilter(id, codes.length ? (base ? ['all', base as ExpressionSpecification, hide] as FilterSpecification : hide) : (base ?? null));
    }
    this.coneFilter();
  }
}
