/**
 * 2D and 3D as one scene: rasters put on the map when first shown; entering 3D sets the terrain (and shows its relief shading for the
 * time of 3D, unless the user has it on anyway), puts the pipes below ground; the 地下 toggle
 * makes the ground see-through and lets the pipes draw through it; 2D undoes all of it.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';
import type { Catalog } from './catalog';
import { isRaster, type RasterStack } from './mapLayers';
import type { LayerPanel } from './layerPanel';
import type { GroundOpacity } from './opacity';
import type { FeaturePopup } from './popup';
import { EXAGGERATION, Terrain } from './terrain';
import { UndergroundPipes } from './underground';
import type { ViewControl, ViewMode } from './view3d';

/** How opaque the ground stays in the underground view: enough to keep one's bearings. */
export const UNDERGROUND_GROUND_OPACITY = 0.25;

export interface Scene {
  terrain: Terrain;
  pipes: UndergroundPipes;
  opacity: GroundOpacity;
}

declare global {
  interface Window {
    /** Terrain, underground pipes and ground opacity, for end-to-end tests. */
    __scene?: Scene;
  }
}

export interface SceneParts {
  map: MapLibreMap;
  catalog: Catalog;
  panel: LayerPanel;
  view: ViewControl;
  opacity: GroundOpacity;
  popup: FeaturePopup;
  rasters: RasterStack;
  /** Deck's pipes go beneath this MapLibre layer (the live overlays). */
  beneath?: string;
}

export function setupScene(parts: SceneParts): Scene {
  const { map, catalog, panel, view, opacity, popup, rasters } = parts;
  const terrain = new Terrain(map, catalog, rasters);
  const pipes = new UndergroundPipes(map, catalog, terrain, (id) => panel.isVisible(id), parts.beneath);
  const dem = terrain.dem;
  /** The relief's visibility before 3D turned it on (null: 3D did not change it). */
  let reliefBefore: boolean | null = null;
  let switching = false;

  panel.onVisibility((layer, visible) => {
    if (isRaster(layer) && visible && layer.available && !rasters.has(layer)) {
      rasters.ensure(layer, true); // first shown: onto the map now
      opacity.refresh(layer.id);
    }
    if (layer === dem && !switching) reliefBefore = null; // the user's own choice now stands
    pipes.layerChanged(layer);
  });
  popup.addPicker((x, y) => pipes.pickAt(x, y));

  const apply = (mode: ViewMode): void => {
    const is3d = mode === '3d';
    terrain.setEnabled(is3d);
    switching = true;
    if (dem && is3d && !panel.isVisible(dem.id)) {
      reliefBefore = false;
      panel.setLayerVisible(dem, true, false);
    } else if (dem && !is3d && reliefBefore === false) {
      panel.setLayerVisible(dem, false, false);
      reliefBefore = null;
    }
    switching = false;
    pipes.setMode(is3d);
  };
  view.setExaggeration(terrain.available ? EXAGGERATION : null);
  view.setUndergroundAvailable(pipes.layers.length > 0);
  view.listen({
    mode: apply,
    underground: (on) => {
      opacity.setGround(on ? UNDERGROUND_GROUND_OPACITY : 1);
      pipes.setThroughGround(on);
    },
  });
  apply(view.mode);
  const scene = { terrain, pipes, opacity };
  window.__scene = scene;
  return scene;
}
