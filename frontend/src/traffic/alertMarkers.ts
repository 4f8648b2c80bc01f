/**
 * The open traffic alerts on the map (the catalog's live layer on `traffic.alerts`, and always
 * in the traffic view): a ring at each alert's place coloured by kind, brighter while nobody has
 * acknowledged it, with its kind as a label at street zooms. Drawn from TrafficStore.
 */

import type { GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';
import { getLang } from '../i18n';
import { uiScale } from '../mapScale';
import { kindLabel } from './alertList';
import type { TrafficStore } from './store';

const SOURCE = 'traffic-alert-points';
export const ALERT_LAYER = 'traffic-alert-points';
const LABEL_LAYER = 'traffic-alert-labels';
export const ALERT_LAYERS: readonly string[] = [ALERT_LAYER, LABEL_LAYER];
const KIND_COLORS = { accident: '#ff4d4f', congestion: '#ff851b', slow: '#ffdc00' } as const;
const FONT = ['Noto Sans CJK SC Regular'];

export class AlertMarkers {
  private readonly reasons: { layer: boolean | null; mode: boolean } = { layer: null, mode: false };

  constructor(private readonly map: MapLibreMap, private readonly store: TrafficStore) {
    store.onChange((part) => {
      if (part === 'alerts') this.render();
    });
  }

  get visible(): boolean {
    return this.reasons.layer ?? this.reasons.mode;
  }

  setVisible(reason: 'layer' | 'mode', visible: boolean): void {
    this.reasons[reason] = visible;
    for (const id of [ALERT_LAYER, LABEL_LAYER]) {
      if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', this.visible ? 'visible' : 'none');
    }
  }

  /** Adds the source and layers beneath `beneath`, or moves them there. */
  place(beneath?: string): void {
    const map = this.map;
    const before = beneath && map.getLayer(beneath) ? beneath : undefined;
    if (map.getSource(SOURCE)) {
      if (before) for (const id of [ALERT_LAYER, LABEL_LAYER]) map.moveLayer(id, before);
      return;
    }
    const k = uiScale();
    const color = ['match', ['get', 'kind'], 'accident', KIND_COLORS.accident, 'congestion', KIND_COLORS.congestion, KIND_COLORS.slow];
    map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    map.addLayer({
      id: ALERT_LAYER, type: 'circle', source: SOURCE,
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 6 * k, 16, 13 * k],
        'circle-color': color as never,
        'circle-opacity': ['case', ['get', 'fresh'], 0.45, 0.2],
        'circle-stroke-color': color as never,
        'circle-stroke-width': 2.5 * k,
        'circle-pitch-alignment': 'map',
      },
    }, before);
    map.addLayer({
      id: LABEL_LAYER, type: 'symbol', source: SOURCE, minzoom: 13,
      layout: {
        'text-field': ['get', 'label'], 'text-font': FONT, 'text-size': 12 * k, 'text-offset': [0, -1.5],
        'text-anchor': 'bottom', 'text-optional': true,
      },
      paint: { 'text-color': '#ffe0c0', 'text-halo-color': '#04101c', 'text-halo-width': 1.4 * k },
    }, before);
    this.setVisible('mode', this.reasons.mode);
    this.render();
  }

  /** The alert id under a point of the screen, or null. */
  alertAt(point: { x: number; y: number }): number | null {
    if (!this.visible || !this.map.getLayer(ALERT_LAYER)) return null;
    const hit = this.map.queryRenderedFeatures([[point.x - 6, point.y - 6], [point.x + 6, point.y + 6]], { layers: [ALERT_LAYER] })[0];
    const id = hit?.properties?.id;
    return typeof id === 'number' ? id : null;
  }

  render(): void {
    const lang = getLang();
    const features: GeoJSON.Feature<GeoJSON.Point>[] = [];
    for (const a of this.store.list()) {
      if (typeof a.lon !== 'number' || typeof a.lat !== 'number') continue;
      features.push({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [a.lon, a.lat] },
        properties: { id: a.id, kind: a.kind, label: kindLabel(a.kind, lang), fresh: a.status === 'active' },
      });
    }
    this.map.getSource<GeoJSONSource>(SOURCE)?.setData({ type: 'FeatureCollection', features });
  }
}
