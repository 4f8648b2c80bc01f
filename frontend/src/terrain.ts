/**
 * The ground's relief in 3D: the catalog's dem layer (kind dem) as MapLibre terrain. 2D has no
 * terrain (a flat map measures true); 3D sets it with a vertical exaggeration that the view
 * control states on screen, and buildings (fill-extrusion) stand on it.
 *
 * The exaggeration: the Huaibei plain rises only 10-40 m over tens of kilometres, which at a
 * city's zoom (about 8 m a pixel at z14) is 1-5 pixels, i.e. invisible; ×3 makes the low rises
 * and the county's few hills readable while slopes stay gentle enough not to suggest hills that
 * are not there. Depths below ground are drawn on the same vertical scale.
 */

import { LngLat, type Map as MapLibreMap } from 'maplibre-gl';
import type { Catalog, CatalogLayer } from './catalog';
import type { RasterStack } from './mapLayers';

export const EXAGGERATION = 3;

interface ElevationLookup {
  getElevationForLngLatZoom?: (lnglat: LngLat, zoom: number) => number;
}

export class Terrain {
  readonly dem: CatalogLayer | null;
  private on = false;

  constructor(
    private readonly map: MapLibreMap,
    catalog: Catalog,
    private readonly rasters: RasterStack,
  ) {
    // The first dem layer with a file loaded (the catalog may have none).
    this.dem = catalog.layers.find((l) => l.kind === 'dem' && l.available) ?? null;
  }

  get available(): boolean {
    return this.dem !== null;
  }

  get enabled(): boolean {
    return this.on;
  }

  setEnabled(on: boolean): void {
    const dem = this.dem;
    this.on = on && dem !== null;
    if (dem && on) this.map.setTerrain({ source: this.rasters.ensureTerrain(dem), exaggeration: EXAGGERATION });
    else if (this.map.getTerrain()) this.map.setTerrain(null);
  }

  /**
   * A function giving the ground's height (m, exaggerated as drawn) at a point: 0 without
   * terrain. One zoom for all points (the DEM's, at most the view's), because MapLibre's
   * `queryTerrainElevation` works out the covering tiles again on every call.
   */
  groundSampler(): (lon: number, lat: number) => number {
    if (!this.on || !this.dem || !this.map.getTerrain()) return () => 0;
    const terrain = (this.map as unknown as { terrain?: ElevationLookup }).terrain;
    const zoom = Math.max(this.dem.minzoom, Math.min(Math.floor(this.map.getZoom()), this.dem.maxzoom));
    if (terrain?.getElevationForLngLatZoom) {
      const lookup = terrain.getElevationForLngLatZoom.bind(terrain);
      return (lon, lat) => lookup(new LngLat(lon, lat), zoom);
    }
    return (lon, lat) => this.map.queryTerrainElevation([lon, lat]) ?? 0;
  }
}
