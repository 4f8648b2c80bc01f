/**
 * The county overview's panels around the map, each from the console's own stores and endpoints
 * and kept live over the hub: today's cases and their states (DeskStore: /api/desk/summary,
 * /api/incidents and `incidents.changes`; the day's filed count from /api/kpi/incidents), bus
 * operations (the wall's vehicles: /api/vehicles + `vehicles.positions`), vehicle and traffic
 * alerts (AlarmStore `vehicles.alarms`, TrafficStore `traffic.alerts`), data collection
 * (/api/datasets + `data.updates`) and the latest cases (click: a read-only card).
 */

import { getJSON } from '../api';
import { kindName } from '../alarmKinds';
import { alarmTime, type AlarmStore } from '../alarmStore';
import { windows, countyDate } from '../desk/kpiPanel';
import { stateName } from '../desk/names';
import type { DeskStore } from '../desk/store';
import type { Incident } from '../desk/types';
import { el } from '../dom';
import { getLang, onLangChange } from '../i18n';
import type { LiveConnection } from '../live';
import type { TrafficStore } from '../traffic/store';
import { countTo, figure, WallPanel } from './panel';
import { w } from './text';
import type { WallVehicles } from './vehicles';

const ZONE = 'Asia/Shanghai';
const DATA_UPDATES = 'data.updates';
const LIST_MAX = 8;
const KPI_REFRESH_MS = 60_000;
const DATASETS_REFRESH_MS = 5 * 60_000;
const DATASETS_PAGE = 200;
const DATASETS_MAX_PAGES = 10;

function hhmm(iso: string | null | undefined): string {
  const ms = Date.parse(iso ?? '');
  if (!Number.isFinite(ms)) return '';
  return new Intl.DateTimeFormat('zh-CN', { timeZone: ZONE, hour: '2-digit', minute: '2-digit', hour12: false }).format(ms);
}

/** Follows the hub connection: every panel given is stale while it is down. */
export function followConnection(live: LiveConnection, panels: WallPanel[]): void {
  live.onState((state) => {
    for (const panel of panels) panel.setDown(state !== 'connected');
  });
}

export class CasesPanel extends WallPanel {
  private readonly filed = figure(w('casesFiled'), 'cases-filed');
  private readonly open = figure(w('casesOpen'), 'cases-open');
  private readonly closed = figure(w('casesClosed'), 'cases-closed');
  private readonly overdue = figure(w('casesOverdue'), 'cases-overdue');
  private readonly states = el('div', 'wall-bars');
  private kpiTimer = 0;

  constructor(private readonly store: DeskStore) {
    super('cases', 'cases', 5 * 60_000);
    const grid = el('div', 'wall-figures');
    grid.append(this.filed.root, this.open.root, this.closed.root, this.overdue.root);
    this.body.append(grid, this.states);
    store.onChange((part) => {
      if (part === 'queue') this.render();
    });
    store.onCaseChange(() => {
      window.clearTimeout(this.kpiTimer);
      this.kpiTimer = window.setTimeout(() => void this.loadFiled(), 2_000);
    });
    window.setInterval(() => void this.loadFiled(), KPI_REFRESH_MS);
    void this.loadFiled();
  }

  async loadFiled(): Promise<void> {
    const [from, to] = windows().today;
    try {
      const body = await getJSON<{ total?: { filed?: number } }>(`/api/kpi/incidents?${new URLSearchParams({ from, to })}`);
      countTo(this.filed.value, body.total?.filed ?? null);
    } catch {
      countTo(this.filed.value, null);
    }
  }

  private render(): void {
    const s = this.store.summary;
    countTo(this.open.value, s?.open ?? null);
    countTo(this.closed.value, s?.closed_today ?? null);
    countTo(this.overdue.value, s?.overdue ?? null);
    this.overdue.root.classList.toggle('is-bad', (s?.overdue ?? 0) > 0);
    this.states.replaceChildren();
    const entries = Object.entries(s?.states ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    const max = Math.max(1, ...entries.map(([, n]) => n));
    for (const [state, n] of entries) {
      const row = el('div', 'wall-bar');
      row.dataset.state = state;
      const bar = el('span', 'wall-bar-fill');
      bar.style.width = `${(100 * n) / max}%`;
      row.append(el('span', 'wall-bar-label', stateName(state)), el('span', 'wall-bar-track'), el('span', 'wall-bar-value', String(n)));
      row.children[1]?.append(bar);
      this.states.append(row);
    }
    if (this.store.available) this.fresh();
  }
}

export class BusesPanel extends WallPanel {
  private readonly online = figure(w('busesOnline'), 'buses-online');
  private readonly onLine = figure(w('busesOnLine'), 'buses-on-line');
  private readonly alarm = figure(w('busesAlarm'), 'buses-alarm');
  private timer = 0;

  constructor(private readonly vehicles: WallVehicles) {
    super('buses', 'buses', 2 * 60_000);
    const grid = el('div', 'wall-figures three');
    grid.append(this.online.root, this.onLine.root, this.alarm.root);
    this.body.append(grid);
    vehicles.onChange(() => {
      this.fresh();
      if (!this.timer) this.timer = window.setTimeout(() => this.render(), 500);
    });
    window.setInterval(() => this.render(), 10_000);
  }

  render(): void {
    this.timer = 0;
    if (this.vehicles.available === false) return;
    const c = this.vehicles.counts();
    countTo(this.online.value, c.online);
    countTo(this.onLine.value, c.onLine);
    countTo(this.alarm.value, c.alarm);
    this.alarm.root.classList.toggle('is-bad', c.alarm > 0);
  }
}

interface AlertRow {
  key: string;
  time: number;
  kind: 'vehicle' | 'traffic';
  text: string;
  where: string;
}

export class AlertsPanel extends WallPanel {
  private readonly list = el('ol', 'wall-list');

  constructor(private readonly alarms: AlarmStore, private readonly traffic: TrafficStore,
              private readonly labelOf: (id: string) => string) {
    super('alerts', 'alerts');
    this.list.dataset.testid = 'wall-alerts';
    this.body.append(this.list);
    alarms.onChange(() => this.render());
    traffic.onChange(() => this.render());
    onLangChange(() => this.render());
  }

  render(): void {
    const lang = getLang();
    const rows: AlertRow[] = [];
    for (const a of this.alarms.active.values()) {
      rows.push({ key: `v${a.id}`, time: alarmTime(a), kind: 'vehicle', text: kindName(a.kind, lang), where: this.labelOf(a.vehicle_id) });
    }
    for (const a of this.traffic.list()) {
      const headline = (lang === 'zh' ? a.headline_zh : a.headline_en) ?? a.headline_zh ?? a.kind;
      rows.push({ key: `t${a.id}`, time: Date.parse(a.started_at) || 0, kind: 'traffic', text: headline, where: a.name ?? '' });
    }
    rows.sort((a, b) => b.time - a.time);
    this.list.replaceChildren();
    if (!rows.length) this.list.append(el('li', 'wall-empty', w('noAlerts')));
    for (const row of rows.slice(0, LIST_MAX)) {
      const li = el('li', `wall-row ${row.kind}`);
      li.dataset.key = row.key;
      li.append(el('span', 'wall-row-time', hhmm(new Date(row.time).toISOString())),
        el('span', 'wall-row-tag', row.kind === 'vehicle' ? '车' : '路'),
        el('span', 'wall-row-text', row.text), el('span', 'wall-row-where', row.where));
      this.list.append(li);
    }
    this.fresh();
  }
}

interface DatasetItem {
  id: string;
  last_updated_at: string | null;
  score: number | null;
  failing: number | null;
}

export class DataHealthPanel extends WallPanel {
  private readonly total = figure(w('datasets'), 'data-total');
  private readonly today = figure(w('updatedToday'), 'data-today');
  private readonly score = figure(w('quality'), 'data-score');
  private readonly failing = figure(w('failing'), 'data-failing');
  private timer = 0;

  constructor(live: LiveConnection) {
    super('data', 'dataHealth', 30 * 60_000);
    const grid = el('div', 'wall-figures');
    grid.append(this.total.root, this.today.root, this.score.root, this.failing.root);
    this.body.append(grid);
    live.subscribe(DATA_UPDATES, {
      onEvent: () => {
        window.clearTimeout(this.timer);
        this.timer = window.setTimeout(() => void this.load(), 1_000);
      },
      onResync: () => void this.load(),
    });
    window.setInterval(() => void this.load(), DATASETS_REFRESH_MS);
  }

  async load(): Promise<void> {
    const items: DatasetItem[] = [];
    let total = 0;
    try {
      for (let page = 0; page < DATASETS_MAX_PAGES; page += 1) {
        const body = await getJSON<{ total: number; items: DatasetItem[] }>(`/api/datasets?limit=${DATASETS_PAGE}&offset=${page * DATASETS_PAGE}`);
        total = body.total;
        items.push(...body.items);
        if (items.length >= total || !body.items.length) break;
      }
    } catch {
      return; // stays as it was; the age limit greys it
    }
    const day = countyDate();
    const local = (iso: string): string => new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(Date.parse(iso));
    const scores = items.map((i) => i.score).filter((s): s is number => typeof s === 'number');
    countTo(this.total.value, total);
    countTo(this.today.value, items.filter((i) => i.last_updated_at && local(i.last_updated_at) === day).length);
    countTo(this.score.value, scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null, 1);
    countTo(this.failing.value, items.reduce((n, i) => n + (i.failing ?? 0), 0));
    this.fresh();
  }
}

export class LatestCasesPanel extends WallPanel {
  private readonly list = el('ol', 'wall-list');

  constructor(private readonly store: DeskStore, private readonly open: (incident: Incident) => void) {
    super('latest', 'latestCases');
    this.list.dataset.testid = 'wall-latest-cases';
    this.body.append(this.list);
    store.onChange((part) => {
      if (part === 'queue') this.render();
    });
    onLangChange(() => this.render());
  }

  render(): void {
    const cases = [...this.store.queue].sort((a, b) => Date.parse(b.reported_at) - Date.parse(a.reported_at));
    this.list.replaceChildren();
    if (!cases.length) this.list.append(el('li', 'wall-empty', w('noCases')));
    for (const c of cases.slice(0, LIST_MAX)) {
      const li = el('li', `wall-row case${c.urgency === 'urgent' ? ' urgent' : ''}${this.store.flashed.has(c.id) ? ' flash' : ''}`);
      li.dataset.caseId = String(c.id);
      li.tabIndex = 0;
      li.append(el('span', 'wall-row-time', hhmm(c.reported_at)), el('span', 'wall-row-tag', stateName(c.state)),
        el('span', 'wall-row-text', c.category_name ?? c.category_code), el('span', 'wall-row-where', c.township_name ?? c.address ?? ''));
      li.addEventListener('click', () => this.open(c));
      this.list.append(li);
    }
    if (this.store.available) this.fresh();
  }
}
