/**
 * The layer catalog (`GET /api/layers`): its types, and its conversion into MapLibre sources
 * and style layers. Nothing here knows any particular layer: everything derives from the payload.
 */

import type {
  LayerSpecification,
  StyleSpecification,
  VectorSourceSpecification,
} from 'maplibre-gl';
import { absoluteUrl, getJSON } from './api';
import type { Bilingual } from './i18n';

export type Geometry = 'point' | 'line' | 'polygon' | string;

export interface CatalogField extends Bilingual {
  name: string;
  /** Names of coded values (the layer YAML's `values:`), e.g. online -> {zh: 在线, en: Online}. */
  values?: Record<string, Bilingual> | null;
}

/** One MapLibre layer fragment as written in layers/*.yaml. */
export interface StyleFragment {
  type: LayerSpecification['type'];
  paint?: Record<string, unknown>;
  layout?: Record<string, unknown>;
  filter?: unknown;
  minzoom?: number;
  maxzoom?: number;
}

/** How a layer's data is served (the catalog's `source.kind`). */
export type LayerKind = 'table' | 'sql' | 'dataset' | 'cog' | 'dem' | 'live';

/** Fields of a pipe-like layer drawn below ground in 3D: the depth at each end, the width. */
export interface Underground {
  /** Property with the burial depth (m) at the line's first vertex. */
  depth_start: string;
  /** Property with the burial depth (m) at the line's last vertex. */
  depth_end: string;
  /** Property with the diameter (mm). */
  width: string;
}

export interface CatalogLayer {
  id: string;
  kind: LayerKind;
  title: Bilingual;
  description: Bilingual | null;
  department: string;
  domain: string;
  geometry: Geometry;
  minzoom: number;
  maxzoom: number;
  fields: CatalogField[];
  style: StyleFragment[];
  extrusion: { height: string; base: string | null } | null;
  visible: boolean;
  synthetic: boolean;
  attribution: string | null;
  order: number;
  public: boolean;
  /** URL template with the default format's extension; null for live layers. */
  tiles: string | null;
  tilejson: string | null;
  /** Formats the layer can give (mvt; png, jpg, webp). */
  formats: string[];
  /** Default opacity of a raster layer (0-1). */
  opacity: number | null;
  /** "imagery": one of the layers the imagery base switch shows and hides together. */
  basemap: string | null;
  /** Terrain-RGB encoding of a dem layer. */
  encoding: 'mapbox' | 'terrarium' | null;
  /** Hub channel of a live layer (e.g. vehicles.positions). */
  channel: string | null;
  underground: Underground | null;
  /** False for a raster layer with no file loaded yet (nothing to draw; not put on the map). */
  available: boolean;
}

export interface Domain extends Bilingual {
  id: string;
  order: number;
  icon: string | null;
}

export interface Catalog {
  layers: CatalogLayer[];
  /** The domains, in their order. */
  domains: Domain[];
  bounds: [number, number, number, number];
  center: [number, number];
}

export const GLYPHS_PATH = '/glyphs/{fontstack}/{range}.pbf';
export const BACKGROUND_COLOR = '#06111d';

function isBounds(value: unknown): value is Catalog['bounds'] {
  return Array.isArray(value) && value.length === 4 && value.every((v) => Number.isFinite(v));
}

const KINDS: readonly LayerKind[] = ['table', 'sql', 'dataset', 'cog', 'dem', 'live'];

/** The domains as an ordered list, from the list the catalog sends (or the older id -> title dict). */
export function normalizeDomains(raw: unknown): Domain[] {
  const list: Domain[] = [];
  const add = (id: unknown, item: Partial<Domain> | null | undefined, index: number): void => {
    if (typeof id !== 'string' || !id) return;
    list.push({
      id,
      zh: typeof item?.zh === 'string' ? item.zh : id,
      en: typeof item?.en === 'string' ? item.en : id,
      order: typeof item?.order === 'number' ? item.order : index,
      icon: typeof item?.icon === 'string' ? item.icon : null,
    });
  };
  if (Array.isArray(raw)) raw.forEach((item: Partial<Domain>, i) => add(item?.id, item, i));
  else if (raw && typeof raw === 'object') {
    Object.entries(raw as Record<string, Partial<Domain>>).forEach(([id, item], i) => add(id, item, i));
  }
  return list.sort((a, b) => a.order - b.order);
}

/** Implicit style of a raster layer that brings none: imagery as a raster, a DEM as hillshade. */
function defaultStyle(kind: LayerKind): StyleFragment[] {
  if (kind === 'cog') return [{ type: 'raster' }];
  if (kind === 'dem') return [{ type: 'hillshade' }];
  return [];
}

/** One catalog layer with every field the console reads, older payloads filled in. */
export function normalizeLayer(raw: Partial<CatalogLayer> & { id: string }): CatalogLayer {
  const kind: LayerKind = KINDS.includes(raw.kind as LayerKind) ? (raw.kind as LayerKind) : 'table';
  const style = Array.isArray(raw.style) && raw.style.length ? raw.style : defaultStyle(kind);
  const opacity = typeof raw.opacity === 'number' ? Math.min(1, Math.max(0, raw.opacity)) : null;
  return {
    ...raw,
    kind,
    title: raw.title ?? { zh: raw.id, en: raw.id },
    description: raw.description ?? null,
    department: raw.department ?? '',
    domain: raw.domain ?? '',
    geometry: raw.geometry ?? (kind === 'cog' || kind === 'dem' ? 'raster' : 'point'),
    minzoom: raw.minzoom ?? 0,
    maxzoom: raw.maxzoom ?? 22,
    fields: raw.fields ?? [],
    style,
    extrusion: raw.extrusion ?? null,
    visible: raw.visible ?? false,
    synthetic: raw.synthetic ?? false,
    attribution: raw.attribution ?? null,
    order: raw.order ?? 0,
    public: raw.public ?? false,
    tiles: raw.tiles ?? null,
    tilejson: raw.tilejson ?? null,
    formats: raw.formats ?? [],
    opacity,
    basemap: raw.basemap ?? null,
    encoding: raw.encoding === 'terrarium' ? 'terrarium' : raw.encoding === 'mapbox' || kind === 'dem' ? 'mapbox' : null,
    channel: raw.channel ?? null,
    underground: raw.underground ?? null,
    available: raw.available ?? true,
  };
}

/** Loads the catalog; throws on a payload that does not have the published shape. */
export async function fetchCatalog(signal?: AbortSignal): Promise<Catalog> {
  const data = await getJSON<{ layers?: unknown; domains?: unknown; bounds?: unknown; center?: [number, number] }>(
    '/api/layers',
    signal ? { signal } : {},
  );
  if (!data || !Array.isArray(data.layers)) throw new Error('/api/layers: no "layers" list');
  if (!isBounds(data.bounds)) throw new Error('/api/layers: bad "bounds"');
  const layers = (data.layers as Array<Partial<CatalogLayer>>)
    .filter((l): l is Partial<CatalogLayer> & { id: string } => typeof l?.id === 'string')
    .map(normalizeLayer);
  return {
    layers,
    domains: normalizeDomains(data.domains),
    bounds: data.bounds,
    center: data.center ?? [
      (data.bounds[0] + data.bounds[2]) / 2,
      (data.bounds[1] + data.bounds[3]) / 2,
    ],
  };
}

/** The MapLibre id of fragment `index` of a catalog layer. */
export function styleLayerId(layer: CatalogLayer, index: number): string {
  return `${layer.id}:${index}`;
}

export function styleLayerIds(layer: CatalogLayer): string[] {
  return layer.style.map((_, i) => styleLayerId(layer, i));
}

/** The catalog layer a MapLibre style layer id belongs to (ids are `${layer.id}:${i}`). */
export function catalogIdOf(styleId: string): string {
  const cut = styleId.lastIndexOf(':');
  return cut < 0 ? styleId : styleId.slice(0, cut);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The attribution line of a layer's source (MapLibre shows those of visible sources). */
export function attributionOf(layer: CatalogLayer, syntheticNote: string): string | undefined {
  const parts: string[] = [];
  if (layer.attribution) parts.push(escapeHtml(layer.attribution));
  if (layer.synthetic) parts.push(escapeHtml(syntheticNote));
  return parts.length ? parts.join(' · ') : undefined;
}

export function vectorSource(layer: CatalogLayer, syntheticNote: string): VectorSourceSpecification {
  const source: VectorSourceSpecification = {
    type: 'vector',
    tiles: layer.tiles ? [absoluteUrl(layer.tiles)] : [],
    minzoom: layer.minzoom,
    maxzoom: layer.maxzoom,
  };
  const attribution = attributionOf(layer, syntheticNote);
  if (attribution) source.attribution = attribution;
  return source;
}

/** MapLibre layers of one catalog layer, in the catalog's order, hidden unless `visible`. */
export function styleLayers(layer: CatalogLayer, visible = layer.visible): LayerSpecification[] {
  return layer.style.map((fragment, i) => {
    const spec: Record<string, unknown> = {
      id: styleLayerId(layer, i),
      type: fragment.type,
      source: layer.id,
      'source-layer': layer.id,
      minzoom: fragment.minzoom ?? layer.minzoom,
      maxzoom: fragment.maxzoom ?? layer.maxzoom,
      layout: { ...(fragment.layout ?? {}), visibility: visible ? 'visible' : 'none' },
      paint: { ...(fragment.paint ?? {}) },
    };
    if (fragment.filter !== undefined && fragment.filter !== null) spec.filter = fragment.filter;
    return spec as unknown as LayerSpecification;
  });
}

/** The map's style before the catalog arrives: the dark background and the server's glyphs. */
export function baseStyle(): StyleSpecification {
  return {
    version: 8,
    name: 'cityops',
    glyphs: absoluteUrl(GLYPHS_PATH),
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': BACKGROUND_COLOR } }],
  };
}

const COLOR_PAINT = [
  'fill-extrusion-color',
  'fill-color',
  'line-color',
  'circle-color',
  'circle-stroke-color',
  'fill-outline-color',
  'text-color',
];

const COLOR_LITERAL = /^(#[0-9a-f]{3,8}|rgba?\(|hsla?\()/i;

function collectColors(value: unknown, out: string[]): void {
  if (typeof value === 'string') {
    if (COLOR_LITERAL.test(value.trim()) && !out.includes(value)) out.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectColors(item, out);
  }
}

/** Up to `max` colours a layer is drawn in, read from its style (literals inside expressions too). */
export function swatchColors(layer: CatalogLayer, max = 4): string[] {
  const colors: string[] = [];
  for (const key of COLOR_PAINT) {
    for (const fragment of layer.style) {
      if (fragment.type === 'symbol' && key !== 'text-color') continue;
      collectColors(fragment.paint?.[key], colors);
    }
    if (colors.length) break;
  }
  return colors.slice(0, max);
}

/** The outline colour of a polygon layer's swatch: that of its first line fragment, if any. */
export function swatchOutline(layer: CatalogLayer): string | undefined {
  const colors: string[] = [];
  for (const fragment of layer.style) {
    if (fragment.type === 'line') collectColors(fragment.paint?.['line-color'], colors);
    if (colors.length) break;
  }
  return colors[0];
}

/**
 * Catalog layers grouped by domain: domains in the order of the payload's `domains` (unknown
 * ones last, in order of appearance), layers inside a domain in the catalog's order.
 */
export function groupByDomain(catalog: Catalog): Array<{ domain: string; layers: CatalogLayer[] }> {
  const groups = new Map<string, CatalogLayer[]>();
  for (const layer of catalog.layers) {
    const list = groups.get(layer.domain) ?? [];
    list.push(layer);
    groups.set(layer.domain, list);
  }
  const known = catalog.domains.map((d) => d.id);
  const rank = (domain: string): number => {
    const i = known.indexOf(domain);
    return i < 0 ? known.length : i;
  };
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([domain, layers]) => ({ domain, layers }));
}
