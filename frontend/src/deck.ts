/**
 * The one owner of deck.gl: a MapboxOverlay, by default interleaved with MapLibre (deck's layers are drawn
 * inside MapLibre's own frame and depth buffer, so terrain and extruded buildings hide what lies
 * behind or below them). The console loads it on demand (a dynamic import) the first time 3D
 * needs it, so the 2D console does not carry deck.gl; the wall imports it for its moving
 * vehicles. Each user owns a named group of layers (`setGroup`); the overlay draws them all.
 *
 * loaders.gl would fetch its worker scripts from a CDN: `worker: false` keeps every parse on
 * this page (nothing leaves the server; the page's CSP allows no other script origin anyway).
 */

import { MapboxOverlay } from '@deck.gl/mapbox';
import type { Layer } from '@deck.gl/core';
import { PathLayer } from '@deck.gl/layers';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { MIN_WIDTH_PX, type PlacedPipe } from './pipeData';

export const LOAD_OPTIONS = { worker: false } as const;
const PIPES_LAYER = 'underground-pipes';
/** Pixels around the pointer that count as a hit (as the 2D popup's tolerance). */
const PICK_RADIUS = 4;

export interface PipeDrawOptions {
  /** Draw through the ground (no depth test), for the "underground" view. */
  throughGround: boolean;
  /** MapLibre layer the pipes go beneath (the live overlays), if present. */
  beforeId?: string | undefined;
}

export class DeckOverlay {
  private readonly overlay: MapboxOverlay;
  private readonly groups = new Map<string, Layer[]>();

  /**
   * `interleaved: false` draws deck in its own canvas over the map (the wall's moving vehicles
   * on a flat map): a frame of moving points then repaints that canvas only, not the whole
   * MapLibre map as an interleaved layer does (at 2,000 vehicles, the map's repaint every frame
   * was what the frame rate went to).
   */
  constructor(map: MapLibreMap, { interleaved = true }: { interleaved?: boolean } = {}) {
    this.overlay = new MapboxOverlay({ interleaved, layers: [], useDevicePixels: true });
    map.addControl(this.overlay);
  }

  /** Replaces the layers of one group (deck diffs them by id: same ids update in place). */
  setGroup(name: string, layers: Layer[]): void {
    if (layers.length) this.groups.set(name, layers);
    else this.groups.delete(name);
    this.overlay.setProps({ layers: [...this.groups.values()].flat() });
  }

  /** Draws the pipes (an empty list removes them). */
  setPipes(pipes: PlacedPipe[], options: PipeDrawOptions): void {
    if (!pipes.length) {
      this.setGroup('pipes', []);
      return;
    }
    const layer = new PathLayer<PlacedPipe>({
      id: PIPES_LAYER,
      data: pipes,
      getPath: (d) => d.path,
      getColor: (d) => d.color,
      getWidth: (d) => d.width,
      widthUnits: 'meters',
      widthMinPixels: MIN_WIDTH_PX,
      capRounded: true,
      jointRounded: true,
      billboard: false,
      pickable: true,
      autoHighlight: true,
      highlightColor: [255, 255, 255, 200],
      loadOptions: LOAD_OPTIONS,
      parameters: options.throughGround
        ? { depthCompare: 'always', depthWriteEnabled: false }
        : { depthCompare: 'less-equal', depthWriteEnabled: true },
      // Interleaved: where in MapLibre's layer stack deck draws this layer.
      ...(options.beforeId ? { beforeId: options.beforeId } : {}),
      updateTriggers: { getPath: pipes },
    });
    this.setGroup('pipes', [layer]);
  }

  /** The pipes under a screen point (CSS pixels of the map's container), nearest first. */
  pick(x: number, y: number): PlacedPipe[] {
    const infos = this.overlay.pickMultipleObjects({ x, y, radius: PICK_RADIUS, depth: 4, layerIds: [PIPES_LAYER] });
    return infos.map((info) => info.object as PlacedPipe | undefined).filter((p): p is PlacedPipe => !!p);
  }
}
