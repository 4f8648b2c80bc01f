/**
 * Pipes below ground in 3D. Each catalog layer with `underground` fields (the pipelines) is drawn
 * by deck.gl as 3D paths at minus their burial depth under the terrain, while 3D is on and the
 * layer is switched on; its 2D style (dashed lines draped on the ground) is hidden meanwhile and
 * back in 2D. "Through the ground" (the 地下 toggle) draws them without the depth test, so the
 * see-through ground (opacity.ts) does not hide them.
 *
 * The pipes are read around the view's centre (a window, not the whole pitched view up to the
 * horizon, where they would be sub-pixel anyway) and read again when the view leaves it.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';
import { styleLayerIds, type Catalog, type CatalogLayer } from './catalog';
import type { DeckOverlay } from './deck';
import { fetchPipes, placePipes, type BBox, type Pipe, type PlacedPipe, type Props } from './pipeData';
import { EXAGGERATION, type Terrain } from './terrain';
import { describeError, toast } from './toast';
import { t } from './i18n';

/** Half the side of the window of pipes read around the view's centre (m). */
const HALF_WINDOW_M = 2500;
/** A read window is this much larger than needed, so small moves need no new read. */
const MARGIN = 1.5;
const METRES_PER_DEGREE = 111_320;

export interface PipeHit {
  layer: CatalogLayer;
  properties: Props;
}

function contains(outer: BBox, inner: BBox): boolean {
  return outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];
}

export class UndergroundPipes {
  readonly layers: CatalogLayer[];
  private deck: DeckOverlay | null = null;
  private deckLoading: Promise<DeckOverlay | null> | null = null;
  private pipes: Pipe[] = [];
  private loaded: BBox | null = null;
  private abort: AbortController | null = null;
  private mode3d = false;
  private through = false;
  private redrawFrame = 0;
  /** Features read without a depth at either end (not drawable below ground). */
  skipped = 0;

  constructor(
    private readonly map: MapLibreMap,
    catalog: Catalog,
    private readonly terrain: Terrain,
    private readonly isVisible: (layerId: string) => boolean,
    private readonly beforeId?: string,
  ) {
    this.layers = catalog.layers.filter((l) => l.underground && l.kind !== 'live');
    map.on('moveend', () => this.sync());
    // The ground's height changes as terrain tiles arrive: place the pipes again.
    map.on('sourcedata', (e) => {
      const dem = this.terrain.dem;
      if (dem && e.sourceId && e.sourceId.startsWith(dem.id) && this.drawn) this.scheduleRedraw();
    });
  }

  /** How many pipes are drawn now (end-to-end tests). */
  get drawn(): number {
    return this.active().length ? this.pipes.filter((p) => this.active().includes(p.layer)).length : 0;
  }

  get throughGround(): boolean {
    return this.through;
  }

  setMode(mode3d: boolean): void {
    this.mode3d = mode3d;
    if (!mode3d) this.through = false;
    this.sync();
  }

  setThroughGround(on: boolean): void {
    this.through = on;
    this.redraw();
  }

  /** A catalog layer was switched on or off in the panel. */
  layerChanged(layer: CatalogLayer): void {
    if (this.layers.includes(layer)) this.sync();
  }

  /** The pipes as drawn under a screen point, nearest first (none while 3D pipes are not drawn). */
  pipesAt(x: number, y: number): PlacedPipe[] {
    if (!this.deck || !this.drawn) return [];
    return this.deck.pick(x, y);
  }

  /** The pipes under a screen point, as popup hits. */
  pickAt(x: number, y: number): PipeHit[] {
    return this.pipesAt(x, y).map((pipe) => ({ layer: pipe.layer, properties: pipe.properties }));
  }

  private active(): CatalogLayer[] {
    if (!this.mode3d) return [];
    const zoom = this.map.getZoom();
    return this.layers.filter((l) => this.isVisible(l.id) && zoom >= l.minzoom);
  }

  private sync(): void {
    const active = this.active();
    for (const layer of this.layers) {
      // In 3D the pipes are deck's; the dashed 2D lines would only repeat them on the surface.
      const shown2d = this.isVisible(layer.id) && !this.mode3d;
      for (const id of styleLayerIds(layer)) {
        if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', shown2d ? 'visible' : 'none');
      }
    }
    if (!active.length) {
      this.deck?.setPipes([], { throughGround: this.through });
      return;
    }
    const wanted = this.window(1);
    if (this.loaded && contains(this.loaded, wanted)) this.redraw();
    else void this.load(active, this.window(MARGIN));
  }

  /** The window around the view's centre, within the view's bounds. */
  private window(scale: number): BBox {
    const c = this.map.getCenter();
    const dLat = (HALF_WINDOW_M * scale) / METRES_PER_DEGREE;
    const dLon = dLat / Math.cos((c.lat * Math.PI) / 180);
    const b = this.map.getBounds();
    return [
      Math.max(c.lng - dLon, b.getWest()),
      Math.max(c.lat - dLat, b.getSouth()),
      Math.min(c.lng + dLon, b.getEast()),
      Math.min(c.lat + dLat, b.getNorth()),
    ];
  }

  private async load(layers: CatalogLayer[], box: BBox): Promise<void> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    try {
      const [deck, ...pages] = await Promise.all([this.ensureDeck(), ...layers.map((l) => fetchPipes(l, box, abort.signal))]);
      if (abort.signal.aborted || !deck) return;
      this.pipes = pages.flatMap((p) => p.pipes);
      this.skipped = pages.reduce((n, p) => n + p.skipped, 0);
      this.loaded = pages.some((p) => p.more) ? null : box; // cut short: read again when moved
      this.redraw();
    } catch (err) {
      if (abort.signal.aborted) return;
      toast(t('pipesFailed'), describeError(err));
    }
  }

  private ensureDeck(): Promise<DeckOverlay | null> {
    if (!this.deckLoading) {
      this.deckLoading = import('./deck')
        .then(({ DeckOverlay }) => (this.deck = new DeckOverlay(this.map)))
        .catch((err: unknown) => {
          this.deckLoading = null;
          toast(t('pipesFailed'), describeError(err));
          return null;
        });
    }
    return this.deckLoading;
  }

  private scheduleRedraw(): void {
    if (this.redrawFrame) return;
    this.redrawFrame = window.setTimeout(() => {
      this.redrawFrame = 0;
      this.redraw();
    }, 250);
  }

  private redraw(): void {
    const deck = this.deck;
    if (!deck) return;
    const active = this.active();
    const pipes = this.pipes.filter((p) => active.includes(p.layer));
    const placed = placePipes(pipes, this.terrain.groundSampler(), EXAGGERATION);
    const beforeId = this.beforeId && this.map.getLayer(this.beforeId) ? this.beforeId : undefined;
    deck.setPipes(placed, { throughGround: this.through, beforeId });
  }
}
