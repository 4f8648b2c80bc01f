/**
 * The opacity of the ground: each raster layer's own (the panel's slider) times the "underground"
 * factor that makes the ground see-through in 3D, applied to the background, imagery, hillshade
 * and fill layers. One owner, so the slider and the 地下 toggle never undo each other.
 *
 * MapLibre has no hillshade opacity: a hillshade fades by the alpha of its three colours.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';
import { catalogIdOf, type Catalog, type CatalogLayer } from './catalog';
import { fadeColor } from './color';

const HILLSHADE_COLORS: Record<string, string> = {
  'hillshade-shadow-color': '#000000',
  'hillshade-highlight-color': '#ffffff',
  'hillshade-accent-color': '#000000',
};
const OPACITY_PROP: Record<string, string> = {
  background: 'background-opacity',
  fill: 'fill-opacity',
  raster: 'raster-opacity',
};

/** `value` (a paint opacity as written in a style: number, zoom curve or data expression) times `f`. */
export function scaleOpacity(value: unknown, f: number): unknown {
  if (value === undefined || value === null) return f;
  if (typeof value === 'number') return value * f;
  if (!Array.isArray(value)) return value;
  const [op] = value as unknown[];
  // A zoom curve must stay the top-level expression: scale its outputs instead.
  if (op === 'interpolate' || op === 'interpolate-hcl' || op === 'interpolate-lab') {
    const head = value.slice(0, 3);
    const stops = value.slice(3).map((item: unknown, i: number) => (i % 2 === 1 ? scaleOpacity(item, f) : item));
    return [...head, ...stops];
  }
  if (op === 'step') {
    const out = value.slice(0, 2);
    out.push(scaleOpacity(value[2], f));
    value.slice(3).forEach((item: unknown, i: number) => out.push(i % 2 === 1 ? scaleOpacity(item, f) : item));
    return out;
  }
  return ['*', value, f];
}

export class GroundOpacity {
  private ground = 1;
  private readonly own = new Map<string, number>();
  private readonly layers = new Map<string, CatalogLayer>();
  /** Paint values as the style wrote them, per style layer and property. */
  private readonly original = new Map<string, unknown>();
  /** Style layers whose opacity this class has changed (the others keep the style's own). */
  private readonly touched = new Set<string>();

  constructor(private readonly map: MapLibreMap) {}

  /** Registers the catalog's raster layers with their starting opacity (from the user's settings). */
  attach(catalog: Catalog, opacityOf: (layer: CatalogLayer) => number | null): void {
    for (const layer of catalog.layers) {
      this.layers.set(layer.id, layer);
      const own = opacityOf(layer);
      if (own !== null) this.own.set(layer.id, own);
    }
    this.applyAll();
  }

  opacity(layerId: string): number {
    return this.own.get(layerId) ?? 1;
  }

  /** Applies the opacity again to a layer's style layers (after they were put on the map). */
  refresh(layerId: string): void {
    this.setOpacity(layerId, this.opacity(layerId));
  }

  /** The user's opacity of one raster layer (0-1). */
  setOpacity(layerId: string, value: number): void {
    this.own.set(layerId, Math.min(1, Math.max(0, value)));
    const layer = this.layers.get(layerId);
    if (!layer) return;
    for (const spec of this.map.getStyle().layers ?? []) {
      if (catalogIdOf(spec.id) === layerId) this.apply(spec.id, spec.type);
    }
  }

  /** How opaque the ground is drawn (1 normally, lower to see what lies beneath it). */
  setGround(factor: number): void {
    this.ground = factor;
    this.applyAll();
  }

  get groundFactor(): number {
    return this.ground;
  }

  private applyAll(): void {
    for (const spec of this.map.getStyle().layers ?? []) this.apply(spec.id, spec.type);
  }

  private apply(id: string, type: string): void {
    const catalogId = catalogIdOf(id);
    const own = this.layers.has(catalogId) ? this.own.get(catalogId) ?? 1 : 1;
    const factor = own * this.ground;
    if (type === 'hillshade') {
      for (const [prop, fallback] of Object.entries(HILLSHADE_COLORS)) {
        const base = this.remember(id, prop) ?? fallback;
        this.map.setPaintProperty(id, prop, typeof base === 'string' ? fadeColor(base, factor) : base);
      }
      return;
    }
    const prop = OPACITY_PROP[type];
    if (!prop) return;
    if (factor === 1 && !this.touched.has(id)) return;
    const base = this.remember(id, prop);
    this.touched.add(id);
    this.map.setPaintProperty(id, prop, factor === 1 ? base ?? undefined : scaleOpacity(base, factor));
  }

  private remember(id: string, prop: string): unknown {
    const key = `${id}|${prop}`;
    if (!this.original.has(key)) this.original.set(key, this.map.getPaintProperty(id, prop));
    return this.original.get(key);
  }
}
