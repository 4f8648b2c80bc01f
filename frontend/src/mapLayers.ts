/**
 * The catalog on the map: every layer kind as MapLibre sources and style layers. Vector layers
 * (table, sql) go under the live overlays; rasters (cog imagery, then the dem's hillshade) go
 * under every vector layer, coarse under fine by the catalog's `order`, when first shown; a dem
 * also gets a second raster-dem source for the terrain of 3D (MapLibre advises separate sources
 * for hillshade and terrain). Live layers bring no source: the live modules draw them.
 */

import type {
  LayerSpecification,
  Map as MapLibreMap,
  RasterDEMSourceSpecification,
  RasterSourceSpecification,
} from 'maplibre-gl';
import { absoluteUrl } from './api';
import { attributionOf, styleLayerId, styleLayers, vectorSource, type Catalog, type CatalogLayer } from './catalog';

/** Raster tiles of the tile server are 256 px (the contract's /tiles/{layer}/{z}/{x}/{y}.png). */
export const RASTER_TILE_SIZE = 256;
/** A raster's style layer shows its data overzoomed up to here (its source's maxzoom is the data's). */
const RASTER_MAX_DISPLAY_ZOOM = 24;
/** Opacity of a raster layer whose catalog entry names none. */
export const DEFAULT_OPACITY = { cog: 1, dem: 0.6 } as const;

export function isRaster(layer: CatalogLayer): boolean {
  return layer.kind === 'cog' || layer.kind === 'dem';
}

export function isVector(layer: CatalogLayer): boolean {
  return layer.kind === 'table' || layer.kind === 'sql' || layer.kind === 'dataset';
}

/** The catalog's default opacity of a raster layer (0-1). */
export function defaultOpacity(layer: CatalogLayer): number {
  return layer.opacity ?? (layer.kind === 'dem' ? DEFAULT_OPACITY.dem : DEFAULT_OPACITY.cog);
}

/** Id of the raster-dem source the terrain of 3D uses (the hillshade has the layer's own). */
export function terrainSourceId(layer: CatalogLayer): string {
  return `${layer.id}:terrain`;
}

/** A raster or raster-dem source: the TileJSON when the catalog names one (it bounds the requests
 *  to the coverage), else the tile template. */
export function rasterSource(
  layer: CatalogLayer,
  syntheticNote: string,
): RasterSourceSpecification | RasterDEMSourceSpecification {
  const where = layer.tilejson
    ? { url: absoluteUrl(layer.tilejson) }
    : { tiles: layer.tiles ? [absoluteUrl(layer.tiles)] : [] };
  const common = { ...where, tileSize: RASTER_TILE_SIZE, minzoom: layer.minzoom, maxzoom: layer.maxzoom };
  const attribution = attributionOf(layer, syntheticNote);
  const withNote = attribution ? { ...common, attribution } : common;
  if (layer.kind === 'dem') return { type: 'raster-dem', encoding: layer.encoding ?? 'mapbox', ...withNote };
  return { type: 'raster', ...withNote };
}

/** The style layers of a raster catalog layer (its fragments, usually one raster or hillshade). */
export function rasterStyleLayers(layer: CatalogLayer, visible: boolean): LayerSpecification[] {
  return layer.style.map((fragment, i) => {
    const spec: Record<string, unknown> = {
      id: styleLayerId(layer, i),
      type: fragment.type,
      source: layer.id,
      minzoom: fragment.minzoom ?? layer.minzoom,
      maxzoom: fragment.maxzoom ?? RASTER_MAX_DISPLAY_ZOOM,
      layout: { ...(fragment.layout ?? {}), visibility: visible ? 'visible' : 'none' },
      paint: { ...(fragment.paint ?? {}) },
    };
    return spec as unknown as LayerSpecification;
  });
}

/** Rasters bottom to top: imagery by order (coarse first), then relief shading over it. */
function rasterRank(a: CatalogLayer, b: CatalogLayer): number {
  const shade = (l: CatalogLayer): number => (l.kind === 'dem' ? 1 : 0);
  return shade(a) - shade(b) || a.order - b.order;
}

export interface AddOptions {
  visible: (layer: CatalogLayer) => boolean;
  syntheticNote: string;
  /** Vector layers go beneath this style layer (the live overlays), when it exists. */
  beneath?: string | undefined;
}

function failure(layer: CatalogLayer, err: unknown): string {
  return `${layer.id}: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * The raster layers, put on the map when first shown (a hidden raster costs no request, and a
 * layer whose tiles are not served yet asks nothing of the server until someone wants it).
 * They stack right above the background, in rasterRank order whatever order they arrive in.
 */
export class RasterStack {
  private readonly ranked: CatalogLayer[];

  constructor(
    private readonly map: MapLibreMap,
    catalog: Catalog,
    private readonly syntheticNote: string,
  ) {
    this.ranked = catalog.layers.filter((l) => isRaster(l) && l.available).sort(rasterRank);
  }

  has(layer: CatalogLayer): boolean {
    return !!this.map.getSource(layer.id);
  }

  /** Puts a raster layer on the map (once), shown or hidden; throws on a bad style fragment. */
  ensure(layer: CatalogLayer, visible: boolean): void {
    if (!this.ranked.includes(layer) || this.has(layer)) return;
    const map = this.map;
    map.addSource(layer.id, rasterSource(layer, this.syntheticNote));
    const before = this.beforeOf(layer);
    for (const spec of rasterStyleLayers(layer, visible)) map.addLayer(spec, before);
  }

  /** The raster-dem source of the terrain (once). */
  ensureTerrain(layer: CatalogLayer): string {
    const id = terrainSourceId(layer);
    if (!this.map.getSource(id)) this.map.addSource(id, rasterSource(layer, this.syntheticNote));
    return id;
  }

  /** The style layer a raster goes beneath: the next raster up that is on the map, else the
   *  lowest layer that is not the background or a raster. */
  private beforeOf(layer: CatalogLayer): string | undefined {
    const above = this.ranked.slice(this.ranked.indexOf(layer) + 1).find((l) => this.has(l));
    if (above) return styleLayerId(above, 0);
    const rasterSources = new Set(this.ranked.map((l) => l.id));
    return (this.map.getStyle().layers ?? []).find(
      (l) => l.type !== 'background' && !('source' in l && rasterSources.has(String(l.source))),
    )?.id;
  }
}

/**
 * Adds the vector layers of the catalog and the raster layers shown at start; returns the
 * layers it could not add, with the reason (a bad style fragment of one layer does not take
 * the map down).
 */
export function addCatalogLayers(map: MapLibreMap, catalog: Catalog, rasters: RasterStack, options: AddOptions): string[] {
  const failed: string[] = [];
  const beneath = options.beneath && map.getLayer(options.beneath) ? options.beneath : undefined;
  for (const layer of catalog.layers.filter(isVector)) {
    try {
      map.addSource(layer.id, vectorSource(layer, options.syntheticNote));
      for (const spec of styleLayers(layer, options.visible(layer))) map.addLayer(spec, beneath);
    } catch (err) {
      failed.push(failure(layer, err));
    }
  }
  for (const layer of catalog.layers.filter((l) => isRaster(l) && l.available && options.visible(l))) {
    try {
      rasters.ensure(layer, true);
    } catch (err) {
      failed.push(failure(layer, err));
    }
  }
  return failed;
}
