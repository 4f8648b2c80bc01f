/**
 * Assembles the console: header, login, map, layer panel, popups, 2D/3D, the live connection,
 * live buses, the alarm panel and the replay bar. The map starts as a dark background; the
 * catalog (`/api/layers`) brings every source and layer once the user is signed in.
 */

import 'maplibre-gl/dist/maplibre-gl.css';
import './styles.css';
import './layers.css';

import maplibregl from 'maplibre-gl';
import { getJSON, reportUnauthorized, transformRequest } from './api';
import { AlarmPanel } from './alarms';
import { AlarmStore, type Alarm } from './alarmStore';
import { Auth } from './auth';
import { BusLayer, BUS_PULSE_LAYER } from './buses';
import { BusPopup } from './busPopup';
import { baseStyle, fetchCatalog, type Catalog, type CatalogLayer } from './catalog';
import { initCameras } from './cameras';
import { initDesk } from './desk';
import { initHeader } from './header';
import { t } from './i18n';
import { LayerPanel } from './layerPanel';
import { LiveConnection, POSITIONS_CHANNEL } from './live';
import { coveredSides } from './mapCover';
import { addCatalogLayers, defaultOpacity, isRaster, RasterStack } from './mapLayers';
import { GroundOpacity } from './opacity';
import { PanelPrefs } from './prefs';
import { setupScene } from './scene';
import { MapScale } from './mapScale';
import { liveIndicator } from './liveIndicator';
import { FeaturePopup } from './popup';
import { Replay } from './replay';
import { initTraffic } from './traffic';
import { ALERTS_CHANNEL, SEGMENTS_CHANNEL } from './traffic/types';
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
    /** The live connection (state, subscribed viewport), for end-to-end tests. */
    __live?: LiveConnection;
    /** The active alarms as the console knows them, for end-to-end tests. */
    __alarms?: AlarmStore;
    /** How much map text and symbols are scaled with the interface, for end-to-end tests. */
    __mapScale?: MapScale;
  }
}

function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node;
}

const FIT_PADDING = 40;
const FLY_ZOOM = 15;

initToasts(byId('toasts'));
const header = initHeader(byId('header'));
const auth = new Auth(byId('app'));
const live = new LiveConnection();
const panel = new LayerPanel(byId('layer-panel'));
window.__live = live;

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
window.__mapScale = new MapScale(map); // labels and symbols grow with the interface (4K)
// The dispatch desk and KPI panel (src/desk): header buttons, panels, map layers, incidents.changes.
const desk = initDesk({ map, live, auth, header, stage: byId('map').parentElement ?? document.body });
// The cameras (src/cameras): status icons kept live, cones, camera panel, video panels, alarms.
const cameras = initCameras({
  map, live, auth, header, stage: byId('map').parentElement ?? document.body,
  openCase: (id) => {
    desk.setOpen(true);
    desk.store.select(id);
  },
});

const buses = new BusLayer(map);
const alarms = new AlarmStore();
window.__alarms = alarms;
alarms.labelOf = (id) => buses.labelOf(id);
buses.setAlarmLookup((id) => alarms.lookup(id));
buses.setViewFilter((lon, lat) => {
  const view = live.sentViewport;
  if (!view) return true;
  const [w, s, e, n] = view.bbox;
  return lon >= w && lon <= e && lat >= s && lat <= n;
});
alarms.onChange(() => buses.refreshStatuses());
const busPopup = new BusPopup(map, buses);

function showAlarm(alarm: Alarm): void {
  const bus = buses.vehicles.get(alarm.vehicle_id);
  const center: [number, number] | null = bus
    ? [bus.lon, bus.lat]
    : typeof alarm.lon === 'number' && typeof alarm.lat === 'number'
      ? [alarm.lon, alarm.lat]
      : null;
  if (!center) return;
  map.flyTo({ center, zoom: Math.max(map.getZoom(), FLY_ZOOM), duration: 1200 });
  if (bus) busPopup.open(bus.vehicle_id);
}

// The traffic view (src/traffic): congestion overlay, TPI, traffic alerts, segment charts, day
// replay; the console opens in it for the traffic police (and with ?mode=traffic).
const traffic = initTraffic({
  map,
  live,
  auth,
  header,
  stage: byId('map').parentElement ?? document.body,
  beneath: BUS_PULSE_LAYER,
  foldOthers: () => {
    panel.setCollapsed(true);
    alarmPanel.setCollapsed(true);
  },
});

const alarmPanel = new AlarmPanel(byId('alarm-panel'), alarms, {
  onSelect: showAlarm,
  labelOf: (id) => buses.labelOf(id),
  canHandle: () => auth.can('alarms:handle'),
});
auth.onUser(() => alarmPanel.refresh());
buses.onReload(() => alarmPanel.refresh()); // vehicle labels arrived

// The buses show while their catalog layer (kind live) is on and no replay is playing.
const busesShown = { layer: true, replay: true };
function showBuses(): void {
  const visible = busesShown.layer && busesShown.replay;
  buses.setVisible(visible);
  if (!visible) busPopup.close();
}

const replay = new Replay(byId('replay-bar'), map, {
  setLiveVisible: (visible) => {
    busesShown.replay = visible;
    showBuses();
  },
});

header.addTool(replay.toggleButton, 'start');
const liveLight = liveIndicator(live);
header.addTool(liveLight, 'start');
header.addTool(auth.headerElement, 'end');
header.linkDatacenter(() => auth.can('catalog:read'), (check) => { void auth.ready.then(check); auth.onUser(check); });

let catalog: Catalog | null = null;

function fitCounty(animate: boolean): void {
  if (!catalog) return;
  const container = map.getContainer();
  const { width, height } = container.getBoundingClientRect();
  // Every open panel (layer panel, desk, alarm list, KPI) measured: the county fits beside them.
  const covered = coveredSides(container, container.parentElement ?? document.body);
  const left = Math.min(covered.left, Math.max(0, width - 3 * FIT_PADDING - 200));
  const right = Math.min(covered.right, Math.max(0, width - left - 3 * FIT_PADDING - 200));
  const pad = Math.min(FIT_PADDING, Math.max(0, (height - 100) / 2));
  const [w, s, e, n] = catalog.bounds;
  map.fitBounds(
    [
      [w, s],
      [e, n],
    ],
    { padding: { top: pad, bottom: pad, left: left + pad, right: right + pad }, animate },
  );
}

const view = new ViewControl(() => fitCounty(true));
map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
map.addControl(view, 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric', maxWidth: 140 }), 'bottom-right');
map.addControl(new maplibregl.AttributionControl({ compact: false }), 'bottom-right');

map.on('error', (event) => {
  const status = (event.error as { status?: unknown } | undefined)?.status;
  if (status === 401) {
    reportUnauthorized(); // a tile or glyph refused: the session is over
    return;
  }
  toast(t('mapError'), describeError(event.error));
});

const mapLoaded = new Promise<void>((resolve) => {
  if (map.loaded()) resolve();
  else map.once('load', () => resolve());
});

/** What a live layer of the catalog switches: the module drawing its channel. */
function setLiveLayer(layer: CatalogLayer, visible: boolean): void {
  if (layer.channel === POSITIONS_CHANNEL) {
    busesShown.layer = visible;
    showBuses();
  } else if (layer.channel === SEGMENTS_CHANNEL || layer.channel === ALERTS_CHANNEL) {
    traffic.setLiveLayer(layer, visible);
  }
}

function addCatalog(loaded: Catalog, prefs: PanelPrefs, rasters: RasterStack): void {
  // Catalog layers go beneath the live overlays (buses), whenever the catalog arrives.
  const failed = addCatalogLayers(map, loaded, rasters, {
    visible: (layer) => prefs.visible(layer.id, layer.visible),
    syntheticNote: t('syntheticAttribution'),
    beneath: BUS_PULSE_LAYER,
  });
  if (failed.length) toast(t('catalogFailed'), failed.join('\n'), { timeout: 0 });
}

async function loadCatalog(): Promise<void> {
  if (catalog) return;
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
  const prefs = new PanelPrefs(auth.user?.username ?? null);
  const rasters = new RasterStack(map, loaded, t('syntheticAttribution'));
  addCatalog(loaded, prefs, rasters);
  catalog = loaded;
  window.__catalog = loaded;
  const opacity = new GroundOpacity(map);
  opacity.attach(loaded, (layer) => (isRaster(layer) ? prefs.opacity(layer.id, defaultOpacity(layer)) : null));
  panel.attach(map, loaded, { prefs, opacity, onLive: setLiveLayer });
  const popup = new FeaturePopup(map, loaded, (point) => busPopup.claims(point) || traffic.claims(point) || cameras.claims(point));
  setupScene({ map, catalog: loaded, panel, view, opacity, popup, rasters, beneath: BUS_PULSE_LAYER });
  fitCounty(false);
  traffic.catalogLoaded(loaded, (layer, visible) => panel.setLayerVisible(layer, visible, false));
  cameras.catalogLoaded(loaded);
  sendViewport();
  map.once('idle', () => {
    window.__ready = true;
  });
}

function sendViewport(): void {
  const b = map.getBounds();
  live.setViewport({ bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], zoom: map.getZoom() });
}

async function start(): Promise<void> {
  void auth.start();
  await auth.ready;
  await mapLoaded;
  buses.addTo();
  // Users without the fleet's rights (a grid worker) get the map without live vehicles.
  const fleet = auth.can('vehicles:read') && auth.can('live:read');
  if (fleet) {
    buses.connect(live);
    alarms.connect(live);
    // The first load; the live channels reload again once subscribed (nothing is missed between).
    void buses.reload();
    void alarms.load();
  } else {
    alarms.available = false;
    alarmPanel.refresh();
    liveLight.hidden = true;
  }
  await loadCatalog();
  sendViewport();
  map.on('moveend', sendViewport);
  if (fleet) live.start();
}

live.onUnauthorized(() => {
  // Refused (4401) or ended (4410) by the hub: ask the server whether the session is over. The
  // answer is 200 either way, so a sign-out from this page (already showing the login) logs no
  // 401; a session ended elsewhere brings the login back with its message.
  getJSON<{ signed_in?: boolean }>('/api/auth/session', {}, { quiet401: true })
    .then((session) => { if (session.signed_in === false) auth.required(); })
    .catch(() => undefined);
});

auth.onLogin(() => {
  void loadCatalog();
  void buses.reload();
  void alarms.load();
  live.start();
});

void start();
