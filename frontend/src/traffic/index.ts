/**
 * The traffic view, wired into the console. A header button 路况 (for users who may read
 * traffic) opens the traffic panel and the congestion overlay; the console opens in this mode for
 * the traffic police, and for anyone with `?mode=traffic` (or `#traffic`) in the address. The
 * commander's console can also show the overlay alone through the catalog's live layer whose
 * channel is `traffic.segments` (a row of the layer panel). Live over the hub: level updates on
 * `traffic.segments`, alerts on `traffic.alerts`.
 */

import type { Map as MapLibreMap, MapMouseEvent } from 'maplibre-gl';
import './traffic.css';
import { isStatus } from '../api';
import type { Auth } from '../auth';
import { catalogIdOf, type Catalog, type CatalogLayer } from '../catalog';
import { el } from '../dom';
import type { Header } from '../header';
import { onLangChange } from '../i18n';
import type { LiveConnection } from '../live';
import { describeError, toast } from '../toast';
import { ALERT_LAYERS, AlertMarkers } from './alertMarkers';
import { CONGESTION_LAYERS, CongestionLayer } from './congestion';
import { Legend } from './legend';
import { TrafficPanel } from './panel';
import { SegmentPanel } from './segmentPanel';
import { TrafficStore } from './store';
import { tt } from './strings';
import { TrafficReplay } from './trafficReplay';
import { ALERTS_CHANNEL, POSITIONS_CHANNEL, SEGMENTS_CHANNEL, type Level, type TrafficAlert } from './types';

export const TRAFFIC_READ = 'traffic:read';
export const TRAFFIC_ALERTS = 'traffic:alerts';
export const TRAFFIC_POLICE_ROLE = 'traffic_police';
const RELOAD_EVERY_MS = 5 * 60_000; // the levels' own cadence; events fill in between
/** Below this zoom the overlay shows the county seat's roads (about 12 x 11 km around its
 *  centre), not the whole county's tens of thousands of segments; above it, the view's. */
const SEAT_ZOOM = 12;
const SEAT_HALF = [0.065, 0.05];

type BBox = [number, number, number, number];
const TRAFFIC_LAYERS = new Set([...CONGESTION_LAYERS, ...ALERT_LAYERS]);

function within(inner: BBox, outer: BBox): boolean {
  return inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] <= outer[2] && inner[3] <= outer[3];
}
const FLY_MAX_ZOOM = 16.5;

export interface TrafficDeps {
  map: MapLibreMap;
  live: LiveConnection;
  auth: Auth;
  header: Header;
  stage: HTMLElement;
  /** The live buses' lowest layer: the overlay goes beneath it. */
  beneath: string;
  /** Folds the console's other panels when the traffic view opens at start (room for the map). */
  foldOthers: () => void;
}

export interface Traffic {
  layer: CongestionLayer;
  store: TrafficStore;
  panel: TrafficPanel;
  segmentPanel: SegmentPanel;
  replay: TrafficReplay;
  setMode(on: boolean): void;
  /** The catalog is on the map: place the overlay above it and bind its layer row. */
  catalogLoaded(catalog: Catalog, setRow: (layer: CatalogLayer, visible: boolean) => void): void;
  /** The catalog row of the congestion overlay was switched. */
  setLiveLayer(layer: CatalogLayer, visible: boolean): void;
  /** True when a click at `point` is for the traffic view (no feature popup there). */
  claims(point: { x: number; y: number }): boolean;
}

declare global {
  interface Window {
    /** The traffic view (state for end-to-end tests). */
    __traffic?: Traffic & { loaded: boolean; levelOf: (segment: number) => Level };
  }
}

/** Whether the address asks for the traffic view (`?mode=traffic` or `#traffic`). */
export function askedForTraffic(location: Location = window.location): boolean {
  return new URLSearchParams(location.search).get('mode') === 'traffic'
    || location.hash === '#traffic';
}

export function initTraffic(deps: TrafficDeps): Traffic {
  const { map, live, auth, header, stage } = deps;
  const layer = new CongestionLayer(map);
  const store = new TrafficStore();
  const markers = new AlertMarkers(map, store);
  onLangChange(() => markers.render());
  const legend = new Legend(stage);
  const segmentPanel = new SegmentPanel(stage);
  let county: BBox | null = null;
  let seat: BBox | null = null;
  let loadedBox: BBox | null = null;
  let pendingOpen: number | null = null;
  let loaded = false;
  let loading: Promise<void> | null = null;
  let connected = false;
  let modeOn = false;
  let rows: CatalogLayer[] = [];
  let vehicleRows: CatalogLayer[] = []; // live vehicles: hundreds of probe cars hide the levels
  let setRow: ((layer: CatalogLayer, visible: boolean) => void) | null = null;
  let fitted = false;

  const flyTo = (segments: number[], lonlat: [number, number] | null): void => {
    const b = layer.boundsOf(segments);
    if (b) map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 120, maxZoom: FLY_MAX_ZOOM, duration: 1000 });
    else if (lonlat) map.flyTo({ center: lonlat, zoom: Math.max(map.getZoom(), 15), duration: 1000 });
  };
  const openSegment = (segment: number | null): void => {
    const props = segment === null ? undefined : layer.segments.get(segment);
    pendingOpen = props || segment === null ? null : segment; // opened once its area is loaded
    if (!props) return;
    layer.select(props.segment);
    segmentPanel.show(props);
  };
  const showAlert = (alert: TrafficAlert): void => {
    const lonlat: [number, number] | null = typeof alert.lon === 'number' && typeof alert.lat === 'number' ? [alert.lon, alert.lat] : null;
    flyTo(alert.segment === null ? [] : [alert.segment], lonlat);
    openSegment(alert.segment);
  };
  const panel = new TrafficPanel(stage, store, {
    onAlert: showAlert,
    onPilot: (pilot) => {
      flyTo(pilot.segments, null);
      openSegment(pilot.segments[0] ?? null);
    },
    canAct: () => auth.can(TRAFFIC_ALERTS),
  });
  segmentPanel.onClose(() => layer.select(null));
  const replay = new TrafficReplay(stage, layer);

  const button = el('button', 'header-button traffic-toggle');
  button.type = 'button';
  button.dataset.testid = 'traffic-toggle';
  button.hidden = true;
  const texts = (): void => {
    button.textContent = tt('traffic');
    button.title = tt('trafficTitle');
  };
  texts();
  onLangChange(texts);
  header.addTool(replay.toggleButton, 'start');
  header.addTool(button, 'start');

  const fitSeat = (): void => {
    // The seat's watched roads: the pilot segments, with their surroundings.
    const pilot = [...layer.segments.values()].filter((s) => s.pilot_code).map((s) => s.segment);
    const b = layer.boundsOf(pilot);
    if (!b) return;
    fitted = true;
    const [w, s, e, n] = b;
    const dx = (e - w) * 0.6;
    const dy = (n - s) * 0.6;
    // Clear of the traffic panel: beside it on a wide screen, above it on a phone.
    const area = map.getContainer().getBoundingClientRect();
    const box = panel.root.getBoundingClientRect();
    const pad = { top: 40, bottom: 40, left: 40, right: 40 };
    if (panel.open && box.width > 0.7 * area.width) pad.bottom += Math.max(0, area.bottom - box.top);
    else if (panel.open) pad.right += Math.max(0, area.right - box.left);
    if (pad.top + pad.bottom > area.height - 80 || pad.left + pad.right > area.width - 80) {
      pad.top = pad.bottom = pad.left = pad.right = 10;
    }
    map.fitBounds([[w - dx, s - dy], [e + dx, n + dy]], { padding: pad, maxZoom: 15, animate: false });
  };

  /** The seat at county zooms, the view (padded, within the county) at street zooms. */
  const wantedBox = (): BBox | null => {
    if (!county || !seat) return null;
    if (map.getZoom() < SEAT_ZOOM) return seat;
    const b = map.getBounds();
    const dx = (b.getEast() - b.getWest()) * 0.5;
    const dy = (b.getNorth() - b.getSouth()) * 0.5;
    return [Math.max(county[0], b.getWest() - dx), Math.max(county[1], b.getSouth() - dy),
      Math.min(county[2], b.getEast() + dx), Math.min(county[3], b.getNorth() + dy)];
  };

  const reload = (): Promise<void> => {
    const box = wantedBox();
    if (!box) return Promise.resolve();
    if (loading) return loading;
    loading = (async () => {
      try {
        await layer.load(box);
        loadedBox = box;
        loaded = true;
        if (modeOn && !fitted) fitSeat();
        if (pendingOpen !== null) openSegment(pendingOpen);
        const open = segmentPanel.segment;
        const props = open === null ? undefined : layer.segments.get(open);
        if (props) segmentPanel.update(props);
      } catch (err) {
        if (!isStatus(err, 401)) toast(tt('segmentsFailed'), describeError(err));
      } finally {
        loading = null;
      }
    })();
    return loading;
  };

  const connect = (): void => {
    if (connected) return;
    connected = true;
    live.subscribe(SEGMENTS_CHANNEL, {
      followViewport: true,
      onEvent: (data) => {
        layer.applyEvent(data);
        store.levelsChanged(data);
        const open = segmentPanel.segment;
        const props = open === null ? undefined : layer.segments.get(open);
        if (props) segmentPanel.update(props);
      },
      onResync: () => void reload(),
    });
    store.connect(live);
    store.onRaised((alert) => {
      const headline = (document.documentElement.lang === 'en' ? alert.headline_en : alert.headline_zh) ?? alert.name ?? '';
      toast(tt('newAlert'), headline, { kind: 'info' });
    });
    void store.loadAll();
    void reload();
    window.setInterval(() => {
      if (layer.visible) void reload();
    }, RELOAD_EVERY_MS);
    if (auth.can('live:read')) live.start();
  };

  const activate = (): void => {
    if (!auth.can(TRAFFIC_READ)) return;
    connect();
  };

  const syncShown = (): void => {
    legend.setVisible(layer.visible);
    replay.available = layer.visible;
    if (!layer.visible) segmentPanel.close();
  };

  // Entering the view: the levels and alerts on, the vehicles off (the layer panel brings
  // them back).
  const showRows = (set: (layer: CatalogLayer, visible: boolean) => void): void => {
    for (const row of rows) set(row, true);
    for (const row of vehicleRows) set(row, false);
  };

  const setMode = (on: boolean): void => {
    on = on && auth.can(TRAFFIC_READ);
    modeOn = on;
    panel.setOpen(on);
    button.setAttribute('aria-pressed', String(on));
    document.body.classList.toggle('traffic-mode', on);
    if (on && setRow) showRows(setRow); // the catalog's rows show them
    layer.setVisible('mode', on);
    markers.setVisible('mode', on);
    if (on) activate();
    if (on && loaded && !fitted) fitSeat();
    syncShown();
  };
  button.addEventListener('click', () => setMode(!modeOn));
  map.on('moveend', () => {
    const box = wantedBox();
    if (connected && (layer.visible || pendingOpen !== null) && box && loadedBox && !within(box, loadedBox)) void reload();
  });

  /** The overlay's lines go where the catalog puts its row: above the roads and the pilot
   *  segments' own style, beneath the first point layer after it (bus stops, cameras, labels),
   *  whose features stay clickable over the lines. */
  const overlayBeneath = (catalog: Catalog): string => {
    const row = catalog.layers.find((l) => l.kind === 'live' && l.channel === SEGMENTS_CHANNEL);
    const after = new Set(catalog.layers.filter((l) => row && l.order > row.order).map((l) => l.id));
    for (const styleLayer of map.getStyle().layers) {
      if ((styleLayer.type === 'circle' || styleLayer.type === 'symbol') && after.has(catalogIdOf(styleLayer.id))) return styleLayer.id;
    }
    return deps.beneath;
  };

  /** Whether the topmost thing drawn at `point` is the traffic view's (a popup's feature wins). */
  const onTop = (point: { x: number; y: number }): boolean => {
    if (!layer.visible && !markers.visible) return false;
    const top = map.queryRenderedFeatures([[point.x - 4, point.y - 4], [point.x + 4, point.y + 4]])[0];
    return !!top && (TRAFFIC_LAYERS.has(top.layer.id));
  };

  map.on('click', (event: MapMouseEvent) => {
    if (!onTop(event.point)) return;
    const id = markers.alertAt(event.point);
    const alert = id === null ? undefined : store.alerts.get(id);
    if (alert) {
      panel.showTab('alerts');
      showAlert(alert);
      return;
    }
    const segment = layer.segmentAt(event.point);
    if (segment !== null) openSegment(segment);
  });
  map.on('mousemove', (event: MapMouseEvent) => {
    if (!layer.visible && !markers.visible) return;
    map.getCanvas().classList.toggle('traffic-pointer', onTop(event.point));
  });

  const start = (): void => {
    const readable = auth.can(TRAFFIC_READ);
    button.hidden = !readable;
    if (!readable) {
      setMode(false);
      return;
    }
    const wanted = askedForTraffic() || !!auth.user?.roles.includes(TRAFFIC_POLICE_ROLE);
    if (wanted && !modeOn) {
      deps.foldOthers();
      setMode(true);
    }
  };
  void auth.ready.then(start);
  auth.onUser(start);

  const traffic: Traffic = {
    layer,
    store,
    panel,
    segmentPanel,
    replay,
    setMode,
    catalogLoaded(catalog, rowSetter) {
      const [w, s, e, n] = catalog.bounds;
      county = [w, s, e, n];
      const [cx, cy] = catalog.center ?? [(w + e) / 2, (s + n) / 2];
      seat = [cx - SEAT_HALF[0]!, cy - SEAT_HALF[1]!, cx + SEAT_HALF[0]!, cy + SEAT_HALF[1]!];
      setRow = rowSetter;
      rows = catalog.layers.filter((l) => l.kind === 'live' && (l.channel === SEGMENTS_CHANNEL || l.channel === ALERTS_CHANNEL));
      layer.place(overlayBeneath(catalog));
      markers.place(deps.beneath); // above the levels
      vehicleRows = catalog.layers.filter((l) => l.kind === 'live' && l.channel === POSITIONS_CHANNEL);
      if (modeOn) showRows(setRow);
      if (connected) void reload();
    },
    setLiveLayer(row, visible) {
      if (row.channel === ALERTS_CHANNEL) markers.setVisible('layer', visible);
      else layer.setVisible('layer', visible);
      if (visible) activate();
      syncShown();
    },
    claims(point) {
      return onTop(point);
    },
  };
  const exposed = Object.assign(traffic, { loaded: false, levelOf: (segment: number) => layer.drawnLevel(segment) });
  Object.defineProperty(exposed, 'loaded', { get: () => loaded });
  window.__traffic = exposed;
  return traffic;
}
