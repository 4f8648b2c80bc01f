/**
 * Assembles the console: header, map, layer panel, popups, 2D/3D. The map starts as a dark
 * background; the catalog (`/api/layers`) brings every source and layer.
 */

import 'maplibre-gl/dist/maplibre-gl.css';
import './styles.css';

import maplibregl from 'maplibre-gl';
import { transformRequest } from './api';
import { baseStyle, fetchCatalog, styleLayers, vectorSource, type Catalog } from './catalog';
import { initHeader } from './header';
import { t } from './i18n';
import { LayerPanel } from './layerPanel';
import { FeaturePopup } from './popup';
import { describeError, initToasts, toast } from './toast';
import { ViewControl } from './view3d';

declare global {
  interface Window {
    /** The MapLibre map, for end-to-end tests. */
    __map?: maplibregl.Map;
    /** True once the catalog's layers are on the map and it has gone idle after that. */
    __ready?: boolean;
    /** The loaded catalog, for end-to-end tests. */
    __catalog?: Catalog;
  }
}

function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node;
}

const FIT_PADDING = 40;

initToasts(byId('toasts'));
initHeader(byId('header'));
const panel = new LayerPanel(byId('layer-panel'));

window.__ready = false;
const map = new maplibregl.Map({
  container: byId('map'),
  style: baseStyle(),
  center: [0, 0],
  zoom: 7,
  minZoom: 7,
  maxZoom: 20,
  maxPitch: 85,
  localIdeographFontFamily: false,
  attributionControl: false,
  transformRequest,
  fadeDuration: 150,
});
window.__map = map;

let catalog: Catalog | null = null;

function fitCounty(animate: boolean): void {
  if (!catalog) return;
  const { width, height } = map.getContainer().getBoundingClientRect();
  const left = Math.min(panel.coveredWidth, Math.max(0, width - 3 * FIT_PADDING - 200));
  const pad = Math.min(FIT_PADDING, Math.max(0, (height - 100) / 2));
  const [w, s, e, n] = catalog.bounds;
  map.fitBounds(
    [
      [w, s],
      [e, n],
    ],
    { padding: { top: pad, bottom: pad, left: left + pad, right: pad }, animate },
  );
}

const view = new ViewControl(() => fitCounty(true));
map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
map.addControl(view, 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric', maxWidth: 140 }), 'bottom-right');
map.addControl(new maplibregl.AttributionControl({ compact: false }), 'bottom-right');

map.on('error', (event) => {
  toast(t('mapError'), describeError(event.error));
});

const mapLoaded = new Promise<void>((resolve) => {
  if (map.loaded()) resolve();
  else map.once('load', () => resolve());
});

function addCatalog(loaded: Catalog): void {
  const note = t('syntheticAttribution');
  for (const layer of loaded.layers) {
    map.addSource(layer.id, vectorSource(layer, note));
    for (const spec of styleLayers(layer)) map.addLayer(spec);
  }
}

async function loadCatalog(): Promise<void> {
  let loaded: Catalog;
  panel.showFailed(false);
  try {
    loaded = await fetchCatalog();
  } catch (err) {
    panel.showFailed(true);
    toast(t('catalogFailed'), describeError(err), {
      timeout: 0,
      action: { label: 'retry', run: () => void loadCatalog() },
    });
    return;
  }
  await mapLoaded;
  try {
    addCatalog(loaded);
  } catch (err) {
    toast(t('catalogFailed'), describeError(err), { timeout: 0 });
    return;
  }
  catalog = loaded;
  window.__catalog = loaded;
  panel.attach(map, loaded);
  new FeaturePopup(map, loaded);
  fitCounty(false);
  map.once('idle', () => {
    window.__ready = true;
  });
}

void loadCatalog();
