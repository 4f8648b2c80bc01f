/**
 * One domain on the wall: its KPI cards (value and unit, the reference's label with the change
 * and an arrow coloured by `better`, the level's colour, "as of", greyed when stale: by the
 * server's word, and here too once as_of + stale_after_s passes while the wall watches) and its
 * charts, from `/api/domains/{id}/figures` for the current area and live from `domains.kpis`
 * (county-wide figures, so applied while no area is chosen). A card or chart label with `map`
 * filters its layer on the map; a second click clears it. A card whose `map.filter` is null is
 * about its whole layer: its click shows that layer alone (the view's other layers hidden).
 */

import type { FilterSpecification, Map as MapLibreMap } from 'maplibre-gl';
import { describeError } from '../toast';
import { styleLayerId, styleLayerIds, type Catalog } from '../catalog';
import { el } from '../dom';
import { pick } from '../i18n';
import { WallChart } from './charts';
import { fetchFigures, type Area, type Card, type DomainView, type Figures, type KpiDef } from './domains';
import { countTo } from './panel';
import { w } from './text';

const ZONE = 'Asia/Shanghai';
const STALE_CHECK_MS = 10_000;

export interface LayerFilter {
  layer: string;
  /** The card id or "chart:label" that set it. */
  by: string;
  expression: unknown;
}

function hhmm(iso: string | null): string {
  const ms = Date.parse(iso ?? '');
  return Number.isFinite(ms)
    ? new Intl.DateTimeFormat('zh-CN', { timeZone: ZONE, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false }).format(ms)
    : '';
}

/** A card is stale by the server's word, or once as_of + stale_after_s has passed. */
export function cardStale(card: Card, now = Date.now()): boolean {
  if (card.stale) return true;
  const asOf = Date.parse(card.as_of ?? '');
  return Number.isFinite(asOf) && card.stale_after_s !== null && now > asOf + card.stale_after_s * 1000;
}

/** Filters (or clears) one catalog layer's style layers by `expression`, keeping their own. */
export function filterLayer(map: MapLibreMap, catalog: Catalog, layerId: string, expression: unknown): void {
  const layer = catalog.layers.find((l) => l.id === layerId);
  if (!layer) return;
  layer.style.forEach((fragment, i) => {
    const id = styleLayerId(layer, i);
    if (!map.getLayer(id)) return;
    const own = fragment.filter ?? null;
    const next = expression === null ? own : own ? ['all', own, expression] : expression;
    map.setFilter(id, (next ?? null) as FilterSpecification | null);
  });
}

/** Shows or hides one catalog layer's style layers. */
export function setLayerVisible(map: MapLibreMap, catalog: Catalog, layerId: string, on: boolean): void {
  const layer = catalog.layers.find((l) => l.id === layerId);
  if (!layer) return;
  for (const id of styleLayerIds(layer)) if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
}

export class DomainPanel {
  figures: Figures | null = null;
  layerFilter: LayerFilter | null = null;
  failed = '';
  private readonly cardNodes = new Map<string, HTMLElement>();
  private readonly charts = new Map<string, WallChart>();
  private abort: AbortController | null = null;
  private seq = 0;
  private readonly timer: number;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly view: DomainView,
    private readonly cardsHost: HTMLElement,
    private readonly chartsHost: HTMLElement,
    private readonly map: MapLibreMap,
    private readonly catalog: Catalog,
  ) {
    cardsHost.replaceChildren();
    chartsHost.replaceChildren();
    for (const kpi of view.kpis) cardsHost.append(this.cardNode(kpi));
    for (const def of view.charts) {
      const box = el('section', 'wall-chart');
      box.dataset.chart = def.id;
      const title = el('h3', 'wall-chart-title', pick(def.title));
      if (def.unit) title.append(el('span', 'wall-unit', ` (${pick(def.unit)})`));
      const canvas = el('div', 'wall-chart-canvas');
      box.append(title, canvas);
      chartsHost.append(box);
      this.charts.set(def.id, new WallChart(def, canvas, (label) => {
        if (def.map) this.toggleFilter(def.map.layer, `chart:${def.id}:${label}`, ['==', ['get', def.map.field], label]);
      }));
    }
    this.timer = window.setInterval(() => this.renderStale(), STALE_CHECK_MS);
  }

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  async load(area: Area | null): Promise<void> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    const seq = ++this.seq;
    try {
      const figures = await fetchFigures(this.view.id, area, abort.signal);
      if (seq === this.seq) this.apply(figures);
    } catch (err) {
      if (seq !== this.seq || abort.signal.aborted) return;
      this.failed = describeError(err);
      this.cardsHost.classList.add('is-failed');
    }
  }

  /** A `domains.kpis` event or a figures answer. */
  apply(figures: Figures): void {
    if (figures.domain !== this.view.id) return;
    this.figures = figures;
    this.failed = '';
    this.cardsHost.classList.remove('is-failed');
    for (const card of figures.cards) this.renderCard(card);
    for (const chart of figures.charts) {
      const drawn = this.charts.get(chart.id);
      if (!drawn) continue;
      drawn.root.parentElement?.classList.toggle('is-unavailable', !chart.available);
      drawn.root.parentElement?.setAttribute('title', chart.reason ?? '');
      drawn.setRows(chart.available ? chart.rows : []);
    }
    for (const listener of this.listeners) listener();
  }

  dispose(): void {
    this.abort?.abort();
    window.clearInterval(this.timer);
    this.unapplyLayerFilter();
    this.layerFilter = null;
    for (const chart of this.charts.values()) chart.dispose();
    this.cardsHost.replaceChildren();
    this.chartsHost.replaceChildren();
  }

  clearLayerFilter(): void {
    if (!this.layerFilter) return;
    this.unapplyLayerFilter();
    this.layerFilter = null;
    this.renderSelection();
  }

  private toggleFilter(layer: string, by: string, expression: unknown): void {
    const same = this.layerFilter?.by === by;
    this.unapplyLayerFilter();
    this.layerFilter = same ? null : { layer, by, expression };
    if (this.layerFilter) {
      filterLayer(this.map, this.catalog, layer, expression);
      // No expression: the whole layer is the card's subject, so it is shown alone.
      if (expression === null) for (const other of this.view.layers) if (other !== layer) setLayerVisible(this.map, this.catalog, other, false);
    }
    this.renderSelection();
  }

  private unapplyLayerFilter(): void {
    const current = this.layerFilter;
    if (!current) return;
    filterLayer(this.map, this.catalog, current.layer, null);
    if (current.expression === null) for (const other of this.view.layers) setLayerVisible(this.map, this.catalog, other, true);
  }

  private renderSelection(): void {
    for (const [id, node] of this.cardNodes) node.classList.toggle('is-selected', this.layerFilter?.by === `card:${id}`);
    for (const [id, chart] of this.charts) {
      const prefix = `chart:${id}:`;
      chart.select(this.layerFilter?.by.startsWith(prefix) ? this.layerFilter.by.slice(prefix.length) : null);
    }
    for (const listener of this.listeners) listener();
  }

  private cardNode(kpi: KpiDef): HTMLElement {
    const node = el('article', 'wall-card');
    node.dataset.card = kpi.id;
    node.dataset.testid = 'wall-card';
    node.dataset.better = kpi.better;
    const value = el('div', 'wall-card-value');
    value.append(el('span', 'wall-card-number', '—'), el('span', 'wall-unit', kpi.unit ? pick(kpi.unit) : ''));
    node.append(el('h3', 'wall-card-title', pick(kpi.title)), value, el('div', 'wall-card-ref'), el('div', 'wall-card-meta'));
    if (kpi.map) {
      node.classList.add('is-clickable');
      node.tabIndex = 0;
      const map = kpi.map;
      node.addEventListener('click', () => this.toggleFilter(map.layer, `card:${kpi.id}`, map.filter));
    }
    this.cardNodes.set(kpi.id, node);
    return node;
  }

  private renderCard(card: Card): void {
    const node = this.cardNodes.get(card.id);
    const kpi = this.view.kpis.find((k) => k.id === card.id);
    if (!node || !kpi) return;
    node.classList.toggle('is-unavailable', !card.available);
    node.dataset.level = card.level ?? '';
    countTo(node.querySelector<HTMLElement>('.wall-card-number')!, card.available ? card.value : null, kpi.decimals);
    const ref = node.querySelector<HTMLElement>('.wall-card-ref')!;
    ref.replaceChildren();
    if (!card.available) {
      ref.textContent = `${w('unavailable')}${card.reason ? `: ${card.reason}` : ''}`;
    } else if (card.change !== null && kpi.reference) {
      const arrow = card.direction === 'up' ? '▲' : card.direction === 'down' ? '▼' : '■';
      const good = kpi.better === 'none' || card.direction === 'flat' ? 'neutral'
        : (kpi.better === card.direction ? 'good' : 'bad');
      const change = el('span', `wall-change ${good}`, `${arrow} ${card.change_pct !== null ? `${Math.abs(card.change_pct).toFixed(1)}%` : Math.abs(card.change).toFixed(kpi.decimals)}`);
      ref.append(el('span', 'wall-ref-label', pick(kpi.reference.label)), change);
    }
    const meta = node.querySelector<HTMLElement>('.wall-card-meta')!;
    meta.textContent = [card.as_of ? `${w('asOf')} ${hhmm(card.as_of)}` : '', card.filtered ? '' : w('countyFigure')].filter(Boolean).join(' · ');
    node.dataset.asOf = card.as_of ?? '';
    node.dataset.staleAfter = String(card.stale_after_s ?? '');
    node.dataset.serverStale = String(card.stale);
    this.renderStale();
  }

  private renderStale(): void {
    for (const card of this.figures?.cards ?? []) {
      this.cardNodes.get(card.id)?.classList.toggle('is-stale', cardStale(card));
    }
  }
}
