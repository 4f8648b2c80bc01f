/**
 * Map text and symbols follow the interface's scale. The page's root font size grows with the
 * viewport (styles.css: 14 px at 1920 wide, ~24 px at 3840); MapLibre sizes are in pixels, so
 * without this a 4K wall shows 11-16 px labels beside panels drawn at 1.7 times the size.
 * Every layer's size properties (whoever added the layer: the catalog, live buses, the desk,
 * the replay) are scaled from their original values, again when the window is resized.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';

/** The root font size the layer styles were designed at (1920x1080). */
const BASE_ROOT_PX = 14;
/** The size properties of each layer type that draws text or symbols. */
const LAYOUT: Record<string, string[]> = { symbol: ['text-size', 'icon-size'] };
const PAINT: Record<string, string[]> = { symbol: ['text-halo-width'], circle: ['circle-radius', 'circle-stroke-width'] };
/** MapLibre's text-size when a layer sets none. */
const DEFAULT_TEXT_SIZE = 16;

type Value = unknown;

/** The interface's scale: the root font size against the design's; never below 1. */
export function uiScale(basePx = BASE_ROOT_PX): number {
  const root = parseFloat(getComputedStyle(document.documentElement).fontSize);
  return Number.isFinite(root) ? Math.max(1, root / basePx) : 1;
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/**
 * `value` times `k`: a number, or the outputs of an interpolate/step/match/case expression
 * (a zoom curve must stay the top-level expression, so its stops are scaled, not wrapped).
 */
export function scaleValue(value: Value, k: number): Value {
  if (typeof value === 'number') return round(value * k);
  if (!Array.isArray(value) || typeof value[0] !== 'string') return value;
  const [op] = value;
  const out = [...value];
  // Outputs at from, from + 2, ...; `fallback`: the last element is the default output too.
  const outputs = (from: number, fallback: boolean): void => {
    const end = fallback ? out.length - 1 : out.length;
    for (let i = from; i < end; i += 2) out[i] = scaleValue(out[i], k);
    if (fallback) out[end] = scaleValue(out[end], k);
  };
  if (op === 'interpolate' || op === 'interpolate-hcl' || op === 'interpolate-lab') outputs(4, false);
  else if (op === 'step') {
    out[2] = scaleValue(out[2], k);
    outputs(4, false);
  } else if (op === 'match') outputs(3, true);
  else if (op === 'case') outputs(2, true);
  else if (op === 'literal') return value;
  else return ['*', k, value];
  return out;
}

export class MapScale {
  factor = 1;
  /** Each layer's original sizes, by layer id and property. */
  private readonly originals = new Map<string, Map<string, Value>>();

  /** `basePx`: the root size the page was designed at (the wall's is 16 px: its factor is k). */
  constructor(private readonly map: MapLibreMap, private readonly basePx = BASE_ROOT_PX) {
    this.factor = uiScale(basePx);
    const apply = (): void => this.apply();
    map.on('styledata', apply);
    map.on('idle', apply);
    map.on('resize', () => {
      this.factor = uiScale(this.basePx);
      this.apply(true);
    });
  }

  /** Scales the layers not seen yet (all of them when the factor changed). */
  apply(all = false): void {
    const style = this.map.getStyle();
    for (const layer of style?.layers ?? []) {
      if (!all && this.originals.has(layer.id)) continue;
      const layout = LAYOUT[layer.type] ?? [];
      const paint = PAINT[layer.type] ?? [];
      if (!layout.length && !paint.length) continue;
      let sizes = this.originals.get(layer.id);
      if (!sizes) {
        // From the layer's own spec (getStyle's copy): only what the layer sets.
        const spec = layer as { layout?: Record<string, Value>; paint?: Record<string, Value> };
        sizes = new Map();
        for (const p of layout) sizes.set(p, spec.layout?.[p]);
        for (const p of paint) sizes.set(p, spec.paint?.[p]);
        if (sizes.get('text-size') === undefined && spec.layout?.['text-field'] !== undefined) sizes.set('text-size', DEFAULT_TEXT_SIZE);
        this.originals.set(layer.id, sizes);
      }
      if (this.factor === 1 && !all) continue;
      for (const p of layout) {
        const value = sizes.get(p);
        if (value !== undefined) this.map.setLayoutProperty(layer.id, p, scaleValue(value, this.factor));
      }
      for (const p of paint) {
        const value = sizes.get(p);
        if (value !== undefined) this.map.setPaintProperty(layer.id, p, scaleValue(value, this.factor));
      }
    }
    for (const id of [...this.originals.keys()]) if (!this.map.getLayer(id)) this.originals.delete(id);
  }
}
