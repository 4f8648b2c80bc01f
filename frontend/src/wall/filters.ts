/**
 * What cuts a domain's figures: the map's extent (followed on moveend, debounced), a polygon
 * drawn on the map, a township or a grid cell clicked. A minimal click-to-draw of our own rather
 * than terra-draw: one polygon, click to add a vertex, double-click to finish, Esc to cancel is
 * ~60 lines and no dependency (terra-draw brings modes, snapping and editing the wall never uses).
 * The township and grid layers are found from the catalog by their fields (a 9-digit `code`, a
 * 15-digit `grid_code`), never by id; an invisible fill over each makes its inside clickable.
 */

import type { GeoJSONSource, Map as MapLibreMap, MapMouseEvent } from 'maplibre-gl';
import type { Catalog, CatalogLayer } from '../catalog';
import { el } from '../dom';
import type { Area } from './domains';
import { w } from './text';

const EXTENT_DEBOUNCE_MS = 400;
const DRAW_SOURCE = 'wall-draw';
const HIT_SUFFIX = ':wall-hit';

function hasField(layer: CatalogLayer, name: string): boolean {
  return layer.fields.some((f) => f.name === name);
}

export function areaLabel(area: Area): string {
  if (area.kind === 'bbox') return w('filterExtent');
  if (area.kind === 'polygon') return w('filterPolygon');
  if (area.kind === 'township') return `${w('filterTownship')} ${area.name}`;
  return `${w('filterGrid')} ${area.name}`;
}

export class AreaFilter {
  area: Area | null = null;
  followExtent = false;
  drawing = false;
  private points: [number, number][] = [];
  private extentTimer = 0;
  private hitLayers: string[] = [];
  private readonly listeners = new Set<(area: Area | null) => void>();
  /** Which filters the current view allows (its `filters`). */
  allowed = new Set<string>();
  enabled = false;

  constructor(private readonly map: MapLibreMap) {
    map.on('moveend', () => {
      if (!this.enabled || !this.followExtent || !this.allowed.has('extent')) return;
      window.clearTimeout(this.extentTimer);
      this.extentTimer = window.setTimeout(() => this.set(this.extent()), EXTENT_DEBOUNCE_MS);
    });
    map.on('click', (e) => this.click(e));
    map.on('dblclick', (e) => {
      if (!this.drawing) return;
      e.preventDefault();
      this.finish();
    });
    window.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.drawing) this.cancelDraw();
    });
  }

  onChange(listener: (area: Area | null) => void): void {
    this.listeners.add(listener);
  }

  /** Invisible fills over the township and grid layers (clickable insides), once. */
  catalogLoaded(catalog: Catalog): void {
    for (const layer of catalog.layers) {
      if (layer.geometry !== 'polygon' || !(hasField(layer, 'grid_code') || hasField(layer, 'code'))) continue;
      if (!this.map.getSource(layer.id)) continue;
      const id = `${layer.id}${HIT_SUFFIX}`;
      this.map.addLayer({ id, type: 'fill', source: layer.id, 'source-layer': layer.id, paint: { 'fill-color': '#000', 'fill-opacity': 0 } });
      this.hitLayers.push(id);
    }
    this.map.addSource(DRAW_SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    this.map.addLayer({ id: `${DRAW_SOURCE}:fill`, type: 'fill', source: DRAW_SOURCE, filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': '#00e5ff', 'fill-opacity': 0.12 } });
    this.map.addLayer({ id: `${DRAW_SOURCE}:line`, type: 'line', source: DRAW_SOURCE,
      paint: { 'line-color': '#00e5ff', 'line-width': 2 * (Number(document.documentElement.dataset.k) || 1), 'line-dasharray': [2, 1] } });
  }

  set(area: Area | null): void {
    this.area = area;
    if (area?.kind !== 'polygon' && !this.drawing) this.drawShape(null);
    if (area?.kind !== 'bbox') this.followExtent = false;
    for (const listener of this.listeners) listener(area);
  }

  clear(): void {
    this.cancelDraw();
    this.followExtent = false;
    this.set(null);
  }

  toggleExtent(): void {
    this.followExtent = !this.followExtent;
    this.set(this.followExtent ? this.extent() : null);
  }

  startDraw(): void {
    this.drawing = true;
    this.points = [];
    this.map.doubleClickZoom.disable();
    this.map.getCanvas().style.cursor = 'crosshair';
    this.drawShape(null);
  }

  private cancelDraw(): void {
    if (!this.drawing) return;
    this.drawing = false;
    this.points = [];
    this.map.doubleClickZoom.enable();
    this.map.getCanvas().style.cursor = '';
    if (this.area?.kind !== 'polygon') this.drawShape(null);
  }

  private finish(): void {
    const ring = this.points.filter((p, i, all) => i === 0 || p[0] !== all[i - 1]?.[0] || p[1] !== all[i - 1]?.[1]);
    this.cancelDraw();
    if (ring.length < 3) return;
    const polygon: GeoJSON.Polygon = { type: 'Polygon', coordinates: [[...ring, ring[0]!]] };
    this.drawShape(polygon);
    this.set({ kind: 'polygon', polygon });
  }

  private extent(): Area {
    const b = this.map.getBounds();
    return { kind: 'bbox', bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()] };
  }

  private click(e: MapMouseEvent): void {
    if (!this.enabled) return;
    if (this.drawing) {
      this.points.push([e.lngLat.lng, e.lngLat.lat]);
      this.drawShape(this.points.length >= 3
        ? { type: 'Polygon', coordinates: [[...this.points, this.points[0]!]] }
        : { type: 'LineString', coordinates: this.points } as unknown as GeoJSON.Polygon);
      return;
    }
    const layers = this.hitLayers.filter((id) => this.map.getLayer(id));
    if (!layers.length) return;
    const features = this.map.queryRenderedFeatures(e.point, { layers });
    const grid = features.find((f) => /^\d{15}$/.test(String(f.properties?.grid_code ?? '')));
    if (grid && this.allowed.has('grid')) {
      const p = grid.properties ?? {};
      this.set({ kind: 'grid', code: String(p.grid_code), name: String(p.name ?? p.grid_code) });
      return;
    }
    const township = features.find((f) => /^\d{9}$/.test(String(f.properties?.code ?? '')));
    if (township && this.allowed.has('township')) {
      const p = township.properties ?? {};
      this.set({ kind: 'township', code: String(p.code), name: String(p.name ?? p.code) });
    }
  }

  private drawShape(shape: GeoJSON.Polygon | null): void {
    const source = this.map.getSource<GeoJSONSource>(DRAW_SOURCE);
    source?.setData({ type: 'FeatureCollection', features: shape ? [{ type: 'Feature', geometry: shape, properties: {} }] : [] });
  }
}

/** The active filter as a chip with a clear (×), or nothing. */
export function filterChip(label: string, onClear: () => void, testid: string): HTMLElement {
  const chip = el('span', 'wall-chip');
  chip.dataset.testid = testid;
  const x = el('button', 'wall-chip-x', '×');
  x.type = 'button';
  x.title = w('clearFilter');
  x.addEventListener('click', onClear);
  chip.append(el('span', 'wall-chip-label', label), x);
  return chip;
}
