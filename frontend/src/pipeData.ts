/**
 * Pipes below ground, as data: a catalog layer with `underground` fields is read as whole
 * features (OGC API Features, GeoJSON), each line's burial depth interpolated along its length
 * between the depths at its two ends, its width from its diameter and its colour from the
 * layer's own `line-color` (a `match` on the network), so that 2D and 3D share one palette.
 *
 * Whole features rather than vector tiles: a tile clips a line at its edge, and a clipped piece
 * no longer knows where along the pipe it lies, so its depths could not be interpolated.
 */

import { getJSON } from './api';
import type { CatalogLayer } from './catalog';
import { colorExpression, type RGBA } from './color';

/** Lines thinner than this many pixels could not be seen or picked. */
export const MIN_WIDTH_PX = 2;
/** A pipe without a diameter is drawn this wide (m). */
const DEFAULT_WIDTH_M = 0.3;
/** One request brings at most this many pipes (the OGC endpoint's limit). */
export const MAX_FEATURES = 10_000;
const GREY: RGBA = [158, 158, 158, 1];
const METRES_PER_DEGREE = 111_320;

export type Props = Record<string, unknown>;

export interface Pipe {
  layer: CatalogLayer;
  properties: Props;
  /** [lon, lat] of each vertex. */
  coords: Array<[number, number]>;
  /** Depth of the pipe's axis (m, positive down) at each vertex. */
  depths: number[];
  /** Width in metres. */
  width: number;
  /** 0-255 channels for deck.gl. */
  color: [number, number, number, number];
}

/** A pipe as drawn: its vertices at [lon, lat, height in metres]. */
export interface PlacedPipe extends Pipe {
  path: Array<[number, number, number]>;
}

function num(value: unknown): number | null {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

/** Metres between two [lon, lat] points (equirectangular: exact enough along a pipe). */
export function distance(a: [number, number], b: [number, number]): number {
  const k = Math.cos((((a[1] + b[1]) / 2) * Math.PI) / 180);
  return Math.hypot((b[0] - a[0]) * k, b[1] - a[1]) * METRES_PER_DEGREE;
}

/** Depths at each vertex, linear in the distance along the line from `start` to `end`. */
export function interpolateDepths(coords: Array<[number, number]>, start: number, end: number): number[] {
  const along = [0];
  for (let i = 1; i < coords.length; i += 1) {
    along.push((along[i - 1] ?? 0) + distance(coords[i - 1] as [number, number], coords[i] as [number, number]));
  }
  const total = along[along.length - 1] ?? 0;
  return along.map((d) => (total > 0 ? start + ((end - start) * d) / total : (start + end) / 2));
}

/** The lines of a GeoJSON geometry (a MultiLineString gives one per part). */
function lines(geometry: { type?: string; coordinates?: unknown } | null | undefined): Array<Array<[number, number]>> {
  const valid = (line: unknown): line is Array<[number, number]> =>
    Array.isArray(line) && line.length >= 2 && line.every((p) => Array.isArray(p) && p.length >= 2);
  if (geometry?.type === 'LineString' && valid(geometry.coordinates)) return [geometry.coordinates];
  if (geometry?.type === 'MultiLineString' && Array.isArray(geometry.coordinates)) {
    return (geometry.coordinates as unknown[]).filter(valid);
  }
  return [];
}

/** The colour function of a line layer, from its first line fragment's `line-color`. */
export function pipeColor(layer: CatalogLayer): (props: Props) => RGBA {
  const fragment = layer.style.find((f) => f.type === 'line');
  return colorExpression(fragment?.paint?.['line-color'], GREY);
}

interface GeoJSONFeature {
  geometry?: { type?: string; coordinates?: unknown } | null;
  properties?: Props | null;
}

/**
 * Pipes from GeoJSON features. A feature without either end's depth takes the other end's; one
 * with neither has no known place below ground and is left out (counted in `skipped`).
 */
export function toPipes(layer: CatalogLayer, features: GeoJSONFeature[]): { pipes: Pipe[]; skipped: number } {
  const spec = layer.underground;
  if (!spec) return { pipes: [], skipped: features.length };
  const colorOf = pipeColor(layer);
  const pipes: Pipe[] = [];
  let skipped = 0;
  for (const feature of features) {
    const props = feature.properties ?? {};
    const start = num(props[spec.depth_start]) ?? num(props[spec.depth_end]);
    const end = num(props[spec.depth_end]) ?? start;
    const parts = lines(feature.geometry);
    if (start === null || end === null || !parts.length) {
      skipped += 1;
      continue;
    }
    const diameter = num(props[spec.width]);
    const width = diameter !== null && diameter > 0 ? diameter / 1000 : DEFAULT_WIDTH_M;
    const [r, g, b, a] = colorOf(props);
    // The depths are cover (surface to the pipe's top): the axis lies half a diameter lower.
    // A MultiLineString's parts are interpolated as one line through them in order.
    const coords = parts.flat();
    const depths = interpolateDepths(coords, start + width / 2, end + width / 2);
    let offset = 0;
    for (const part of parts) {
      pipes.push({
        layer,
        properties: props,
        coords: part,
        depths: depths.slice(offset, offset + part.length),
        width,
        color: [r, g, b, Math.round(a * 255)],
      });
      offset += part.length;
    }
  }
  return { pipes, skipped };
}

/** Each vertex at the ground's height there less its depth, both scaled by `exaggeration`
 *  (the ground from `groundAt` is already exaggerated, as MapLibre draws it). */
export function placePipes(
  pipes: Pipe[],
  groundAt: (lon: number, lat: number) => number,
  exaggeration: number,
): PlacedPipe[] {
  return pipes.map((pipe) => ({
    ...pipe,
    path: pipe.coords.map(([lon, lat], i) => [lon, lat, groundAt(lon, lat) - (pipe.depths[i] ?? 0) * exaggeration]),
  }));
}

export type BBox = [number, number, number, number];

/** The layer's whole features in `bbox` (one page of at most MAX_FEATURES; `more` if cut). */
export async function fetchPipes(
  layer: CatalogLayer,
  bbox: BBox,
  signal?: AbortSignal,
): Promise<{ pipes: Pipe[]; skipped: number; more: boolean }> {
  const query = new URLSearchParams({ bbox: bbox.map((v) => v.toFixed(6)).join(','), limit: String(MAX_FEATURES) });
  const page = await getJSON<{ features?: GeoJSONFeature[]; numberMatched?: number }>(
    `/ogc/collections/${encodeURIComponent(layer.id)}/items?${query}`,
    signal ? { signal } : {},
  );
  const features = Array.isArray(page.features) ? page.features : [];
  const more = typeof page.numberMatched === 'number' && page.numberMatched > features.length;
  return { ...toPipes(layer, features), more };
}
