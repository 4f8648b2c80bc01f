/**
 * The video wall (wall.html): the console's modules in a wall layout, not a second app. Header
 * on top; the map in the centre with the carousel's tabs; panels in columns on both sides (more
 * columns on spliced walls). The overview shows the live county panels; a domain view puts its
 * KPI cards in the inner left column and its charts in the inner right one, its layers on the
 * map and its area filters on the map's edge. Read-only: no dispatch actions anywhere.
 */

import 'maplibre-gl/dist/maplibre-gl.css';
import '../styles.css';
import './wall.css';

import maplibregl from 'maplibre-gl';
import { transformRequest } from '../api';
import { AlarmStore } from '../alarmStore';
import { Auth } from '../auth';
import { baseStyle, fetchCatalog, type Catalog } from '../catalog';
import { DeskStore } from '../desk/store';
import { el } from '../dom';
import { onLangChange, pick, t } from '../i18n';
import { LiveConnection } from '../live';
import { MapScale } from '../mapScale';
import { addCatalogLayers, RasterStack } from '../mapLayers';
import { describeError, initToasts, toast } from '../toast';
import { TrafficStore } from '../traffic/store';
import { OVERVIEW, Carousel } from './carousel';
import { caseCard } from './caseCard';
import { DomainPanel, setLayerVisible } from './domainView';
import { DOMAIN_KPIS_CHANNEL, fetchDomains, type DomainView, type Figures } from './domains';
import { areaLabel, AreaFilter, filterChip } from './filters';
import { WallHeader } from './header';
import { AlertsPanel, BusesPanel, CasesPanel, DataHealthPanel, followConnection, LatestCasesPanel } from './overview';
import type { WallPanel } from './panel';
import { applyLayout, chooseLayout, DESIGN } from './scale';
import { snapshotButton } from './snapshot';
import { w } from './text';
import { WallVehicles } from './vehicles';

declare global {
  interface Window {
    __wall?: Record<string, unknown>;
  }
}

function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from wall.html`);
  return node;
}

const layout = chooseLayout(window.innerWidth, window.innerHeight);
applyLayout(layout);
window.addEventListener('resize', () => {
  const next = chooseLayout(window.innerWidth, window.innerHeight);
  if (next.k !== state.layout.k || next.preset !== state.layout.preset) location.reload();
});

initToasts(byId('toasts'));
const auth = new Auth(byId('wall'));
const live = new LiveConnection();
const tools = el('div', 'wall-tools');
const header = new WallHeader(byId('wall-header'), tools);
const carousel = new Carousel(byId('wall-tabs'));

// Side columns: inner ones next to the map first (left: index 0 is the innermost).
const left: HTMLElement[] = [];
const right: HTMLElement[] = [];
for (let i = 0; i < layout.preset.sideColumns; i += 1) {
  const l = el('div', 'wall-col');
  const r = el('div', 'wall-col');
  l.dataset.testid = 'wall-col';
  r.dataset.testid = 'wall-col';
  left.push(l);
  right.push(r);
  byId('wall-left').prepend(l);
  byId('wall-right').append(r);
}
const domainCards = el('div', 'wall-cards');
domainCards.dataset.testid = 'wall-cards';
const domainCharts = el('div', 'wall-charts');
domainCharts.dataset.testid = 'wall-charts';

const map = new maplibregl.Map({
  container: byId('wall-map'),
  style: baseStyle(),
  center: [117.88, 33.48],
  zoom: 9,
  minZoom: 7,
  maxZoom: 19,
  attributionControl: false,
  localIdeographFontFamily: false,
  transformRequest,
  fadeDuration: 150,
});
window.__map = map;
window.__mapScale = new MapScale(map, DESIGN.rootPx); // map text x k, as the panels
map.addControl(new maplibregl.AttributionControl({ compact: true }), 'bottom-right');
map.on('error', (event) => toast(t('mapError'), describeError(event.error)));
const mapLoaded = new Promise<void>((resolve) => (map.loaded() ? resolve() : map.once('load', () => resolve())));

const vehicles = new WallVehicles(map);
const desk = new DeskStore();
const alarms = new AlarmStore();
const traffic = new TrafficStore();
vehicles.setAlarmed((id) => alarms.lookup(id) !== null && (alarms.lookup(id)?.kinds.length ?? 0) > 0);
alarms.onChange(() => vehicles.setAlarmed((id) => (alarms.lookup(id)?.kinds.length ?? 0) > 0));
desk.onCaseChange((change) => {
  if (change.action === 'file' || change.action === 'report' || change.state === 'reported' || change.state === 'filed') {
    if (typeof change.lon === 'number' && typeof change.lat === 'number') vehicles.pulse(change.id, change.lon, change.lat);
  }
});
const areaFilter = new AreaFilter(map);

const cases = new CasesPanel(desk);
const buses = new BusesPanel(vehicles);
const alerts = new AlertsPanel(alarms, traffic, (id) => vehicles.moving.get(id)?.label ?? id);
const data = new DataHealthPanel(live);
const latest = new LatestCasesPanel(desk, (incident) => caseCard(byId('wall-center'), incident));
const panels: WallPanel[] = [cases, latest, buses, alerts, data, header.panel];
followConnection(live, [cases, latest, buses, alerts, data]);

// The area filters sit over the map's top-left corner (wall.css), clear of the attribution
// (bottom-right, up to two lines across the whole map on a 1080p wall); outside the map's own
// container, so a click on them is no map click (which would pick a township).
const filterBar = byId('wall-filters');
const state = {
  layout,
  view: OVERVIEW,
  catalog: null as Catalog | null,
  domains: [] as DomainView[],
  domain: null as DomainPanel | null,
};

/** Puts the panels in the columns for the view: overview panels everywhere, or the domain's
 *  cards and charts in the inner columns with the overview in the outer ones (if any). */
function arrange(): void {
  for (const col of [...left, ...right]) col.replaceChildren();
  const overview = [cases.root, latest.root, buses.root, alerts.root, data.root];
  const cols = state.domain ? [...left.slice(1), ...right.slice(1)] : [...left, ...right];
  if (state.domain) {
    left[0]!.append(domainCards);
    right[0]!.append(domainCharts);
  }
  // Left first, then right; the first two panels (cases) on the left.
  const split = cols.length ? Math.ceil(overview.length * (state.domain ? left.length - 1 : left.length) / Math.max(1, cols.length)) : 0;
  overview.forEach((node, i) => {
    if (!cols.length) return;
    const sideCols = i < split ? (state.domain ? left.slice(1) : left) : (state.domain ? right.slice(1) : right);
    const list = sideCols.length ? sideCols : cols;
    const index = i < split ? i : i - split;
    list[index % list.length]!.append(node);
  });
}

/** The layers of every domain view: shown only in their view. */
function showDomainLayers(view: DomainView | null): void {
  const catalog = state.catalog;
  if (!catalog) return;
  const all = new Set(state.domains.flatMap((d) => d.layers));
  for (const id of all) setLayerVisible(map, catalog, id, !!view?.layers.includes(id));
}

function fitCounty(): void {
  const b = state.catalog?.bounds;
  if (b) map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 24 * layout.k, animate: false });
}

function renderFilters(): void {
  filterBar.replaceChildren();
  const panel = state.domain;
  if (!panel) return;
  const allowed = new Set(panel.view.filters);
  if (allowed.has('extent')) {
    const b = el('button', `wall-tool${areaFilter.followExtent ? ' is-on' : ''}`, w('followExtent'));
    b.type = 'button';
    b.dataset.testid = 'filter-extent';
    b.addEventListener('click', () => areaFilter.toggleExtent());
    filterBar.append(b);
  }
  if (allowed.has('polygon')) {
    const b = el('button', `wall-tool${areaFilter.drawing ? ' is-on' : ''}`, w('draw'));
    b.type = 'button';
    b.title = w('drawHint');
    b.dataset.testid = 'filter-draw';
    b.addEventListener('click', () => {
      areaFilter.startDraw();
      renderFilters();
    });
    filterBar.append(b);
  }
  if (areaFilter.area) filterBar.append(filterChip(areaLabel(areaFilter.area), () => areaFilter.clear(), 'filter-chip'));
  if (panel.layerFilter) {
    const label = panel.layerFilter.by.startsWith('card:')
      ? pick(panel.view.kpis.find((k) => `card:${k.id}` === panel.layerFilter?.by)?.title ?? { zh: '', en: '' })
      : panel.layerFilter.by.split(':').slice(2).join(':');
    filterBar.append(filterChip(`${w('filterLayer')} ${label}`, () => panel.clearLayerFilter(), 'layer-filter-chip'));
  }
}

function show(id: string): void {
  state.domain?.dispose();
  state.domain = null;
  areaFilter.clear();
  state.view = id;
  const view = state.domains.find((d) => d.id === id) ?? null;
  if (view && state.catalog) {
    const panel = new DomainPanel(view, domainCards, domainCharts, map, state.catalog);
    state.domain = panel;
    areaFilter.allowed = new Set(view.filters);
    areaFilter.enabled = true;
    panel.onChange(renderFilters);
    void panel.load(null);
  } else {
    areaFilter.enabled = false;
  }
  document.body.dataset.view = id;
  arrange();
  showDomainLayers(view);
  if (view?.bbox) map.fitBounds([[view.bbox[0], view.bbox[1]], [view.bbox[2], view.bbox[3]]], { padding: 24 * layout.k, duration: 800 });
  else fitCounty();
  renderFilters();
}

areaFilter.onChange((area) => {
  renderFilters();
  void state.domain?.load(area);
});
carousel.onShow(show);

tools.append(snapshotButton(() => ({
  view: state.view,
  map,
  area: areaFilter.area,
})));

window.__wall = {
  get view() { return state.view; },
  get filter() { return areaFilter.area; },
  get layerFilter() { return state.domain?.layerFilter ?? null; },
  get paused() { return carousel.paused; },
  get stale() { return panels.filter((p) => p.stale).map((p) => p.id); },
  get layout() { return { k: layout.k, preset: layout.preset.name, sideColumns: layout.preset.sideColumns }; },
  get figures() { return state.domain?.figures ?? null; },
  get domains() { return state.domains.map((d) => d.id); },
  get connection() { return live.currentState; },
  carousel,
  vehicles,
  header,
  live,
  ready: false,
};

async function loadDomains(): Promise<void> {
  try {
    const body = await fetchDomains();
    state.domains = body.domains;
    carousel.setStops(body.domains.map((d) => ({ id: d.id, title: d.title })), body.carousel_s);
  } catch (err) {
    toast(w('domainsFailed'), describeError(err));
  }
}

async function start(): Promise<void> {
  void auth.start();
  await auth.ready;
  await mapLoaded;
  arrange();
  let catalog: Catalog;
  try {
    catalog = await fetchCatalog();
  } catch (err) {
    toast(t('catalogFailed'), describeError(err), { timeout: 0 });
    return;
  }
  const rasters = new RasterStack(map, catalog, t('syntheticAttribution'));
  addCatalogLayers(map, catalog, rasters, { visible: (l) => l.visible && l.kind !== 'cog', syntheticNote: t('syntheticAttribution') });
  state.catalog = catalog;
  window.__catalog = catalog;
  areaFilter.catalogLoaded(catalog);
  fitCounty();
  const sendViewport = (): void => {
    const b = map.getBounds();
    live.setViewport({ bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], zoom: map.getZoom() });
  };
  sendViewport();
  map.on('moveend', sendViewport);

  vehicles.connect(live);
  desk.connect(live);
  alarms.connect(live);
  traffic.connect(live);
  header.connect(live);
  live.subscribe(DOMAIN_KPIS_CHANNEL, {
    onEvent: (event) => {
      if (state.domain && !areaFilter.area) state.domain.apply(event as unknown as Figures);
    },
    onResync: () => void state.domain?.load(areaFilter.area),
  });
  await loadDomains();
  showDomainLayers(null);
  // After a language switch the wall comes back on the view it showed (?view=).
  const asked = new URLSearchParams(location.search).get('view');
  if (asked && asked !== OVERVIEW) carousel.show(asked);
  void Promise.all([header.load(), desk.reload(), alarms.load(), traffic.loadAll(), vehicles.reload(), data.load()]);
  live.start();
  // Ready once the catalog, the views and the first loads are asked for; the map's idle is
  // separate (a 4K frame drawn in software may take minutes to settle in the tests).
  (window.__wall as Record<string, unknown>).ready = true;
  map.once('idle', () => {
    window.__ready = true;
  });
}

auth.onLogin(() => live.start());
// 中/EN (the header's toggle, the console's lang module): the wall's strings are set as its
// panels are built, so it reloads in the other language on the view it showed.
onLangChange((lang) => {
  const url = new URL(location.href);
  url.searchParams.set('lang', lang);
  url.searchParams.set('view', state.view);
  location.replace(url.toString());
});
void start();
