/**
 * The KPI panel (综合评价): 结案率, 按期结案率, 返工率 and 延期率 as big numbers for today and this
 * month (local days in Asia/Shanghai), and this month's table by department or by grid, from
 * `GET /api/kpi/incidents` (cases counted by filing time). Refreshed while open: a few seconds
 * after a case changes, and every minute.
 */

import { getJSON } from '../api';
import { getLang, onLangChange, otherLang, t, type StringKey } from '../i18n';
import { describeError } from '../toast';
import { button, el } from './dom';
import { percent } from './names';
import type { Kpis, KpiRates, KpiRow } from './types';

const ZONE = 'Asia/Shanghai';
const OFFSET = '+08:00';
const REFRESH_AFTER_CHANGE_MS = 3_000;
const REFRESH_EVERY_MS = 60_000;

const RATES: { key: keyof KpiRates; label: StringKey; num: keyof KpiRow; den: keyof KpiRow }[] = [
  { key: 'closed_rate', label: 'kpiClosedRate', num: 'closed', den: 'filed' },
  { key: 'on_time_rate', label: 'kpiOnTimeRate', num: 'closed_on_time', den: 'closed' },
  { key: 'rework_rate', label: 'kpiReworkRate', num: 'reworked', den: 'handled' },
  { key: 'extension_rate', label: 'kpiExtensionRate', num: 'extended', den: 'dispatched' },
];

type Table = 'department' | 'grid';

/** Today's date in the county (YYYY-MM-DD), whatever the browser's own time zone. */
export function countyDate(now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** [from, to) of the county's today and this month, with the county's offset. */
export function windows(now = new Date()): { today: [string, string]; month: [string, string] } {
  const date = countyDate(now);
  const y = Number(date.slice(0, 4));
  const m = Number(date.slice(5, 7));
  const first = `${y}-${String(m).padStart(2, '0')}-01`;
  const next = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
  const at = (d: string): string => `${d}T00:00:00${OFFSET}`;
  return { today: [at(date), at(nextDay(date))], month: [at(first), at(next)] };
}

function query(from: string, to: string, groupBy: string): string {
  return `/api/kpi/incidents?${new URLSearchParams({ from, to, group_by: groupBy })}`;
}

export class KpiPanel {
  readonly root: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly body: HTMLElement;
  private today: Kpis | null = null;
  private month: Kpis | null = null;
  private grids: Kpis | null = null;
  private failed = '';
  private table: Table = 'department';
  private refreshTimer = 0;
  private everyTimer = 0;
  private seq = 0;
  private readonly closeListeners = new Set<() => void>();

  constructor(host: HTMLElement) {
    this.root = el('aside', 'panel kpi-panel');
    this.root.dataset.testid = 'kpi-panel';
    this.root.hidden = true;
    const header = el('div', 'panel-header');
    this.heading = el('h2', 'panel-title');
    const close = button('panel-collapse', '×', () => {
      for (const listener of this.closeListeners) listener();
    });
    close.title = t('kpiClose');
    close.dataset.testid = 'kpi-close';
    header.append(this.heading, close);
    this.body = el('div', 'panel-body kpi-body');
    this.root.append(header, this.body);
    host.append(this.root);
    onLangChange(() => this.render());
    this.render();
  }

  get open(): boolean {
    return !this.root.hidden;
  }

  onClose(listener: () => void): void {
    this.closeListeners.add(listener);
  }

  setOpen(open: boolean): void {
    this.root.hidden = !open;
    window.clearInterval(this.everyTimer);
    if (open) {
      void this.load();
      this.everyTimer = window.setInterval(() => void this.load(), REFRESH_EVERY_MS);
    }
    this.render();
  }

  /** A case changed: refresh shortly (changes come in bursts). */
  changed(): void {
    if (!this.open) return;
    window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => void this.load(), REFRESH_AFTER_CHANGE_MS);
  }

  async load(): Promise<void> {
    const seq = ++this.seq;
    const w = windows();
    try {
      const [today, month, grids] = await Promise.all([
        getJSON<Kpis>(query(...w.today, 'department')),
        getJSON<Kpis>(query(...w.month, 'department')),
        getJSON<Kpis>(query(...w.month, 'grid')),
      ]);
      if (seq !== this.seq) return;
      Object.assign(this, { today, month, grids, failed: '' });
    } catch (err) {
      if (seq !== this.seq) return;
      this.failed = describeError(err);
    }
    this.render();
  }

  private render(): void {
    const lang = getLang();
    this.heading.replaceChildren(el('span', 'name-main', t('kpiTitle', lang)), el('span', 'name-sub', t('kpiTitle', otherLang(lang))));
    if (!this.open) return;
    const parts: HTMLElement[] = [];
    if (this.failed) {
      const note = el('p', 'panel-note desk-error', `${t('kpiFailed')}: ${this.failed}`);
      note.setAttribute('role', 'alert');
      parts.push(note);
    }
    if (!this.month && !this.failed) parts.push(el('p', 'panel-note', t('loading')));
    if (this.today) parts.push(this.renderBig('kpiToday', this.today.total, 'today'));
    if (this.month) parts.push(this.renderBig('kpiMonth', this.month.total, 'month'));
    if (this.month && this.grids) parts.push(this.renderTables());
    parts.push(el('p', 'kpi-note', t('kpiWindowNote')));
    this.body.replaceChildren(...parts);
  }

  private renderBig(label: StringKey, total: KpiRow, id: string): HTMLElement {
    const row = el('section', 'kpi-big');
    row.dataset.testid = `kpi-${id}`;
    const head = el('div', 'kpi-big-label');
    head.append(el('span', 'kpi-big-when', t(label)), el('span', 'kpi-big-filed', `${t('kpiFiled')} ${total.filed}`));
    row.append(head);
    for (const rate of RATES) {
      const tile = el('div', 'kpi-tile');
      tile.dataset.rate = rate.key;
      const value = el('div', 'kpi-value', percent(total.rates[rate.key]));
      value.dataset.testid = `kpi-${id}-${rate.key}`;
      tile.append(
        value,
        el('div', 'kpi-label', t(rate.label)),
        el('div', 'kpi-fraction', `${total[rate.num] as number} / ${total[rate.den] as number}`),
      );
      row.append(tile);
    }
    return row;
  }

  private renderTables(): HTMLElement {
    const box = el('section', 'kpi-tables');
    const tabs = el('div', 'kpi-tabs');
    for (const [key, label] of [
      ['department', 'kpiByDepartment'],
      ['grid', 'kpiByGrid'],
    ] as const) {
      const tab = button('kpi-tab', t(label), () => {
        this.table = key;
        this.render();
      });
      tab.setAttribute('aria-pressed', String(this.table === key));
      tab.dataset.testid = `kpi-tab-${key}`;
      tabs.append(tab);
    }
    box.append(tabs);
    const data = this.table === 'department' ? this.month : this.grids;
    const rows = [...(data?.groups ?? [])].sort((a, b) => b.filed - a.filed);
    if (!rows.length) {
      box.append(el('p', 'panel-note', t('kpiEmpty')));
      return box;
    }
    const table = el('table', 'kpi-table');
    table.dataset.testid = `kpi-table-${this.table}`;
    const head = el('tr');
    for (const key of ['kpiName', 'kpiFiled', 'kpiClosed', ...RATES.map((r) => r.label)] as StringKey[]) {
      head.append(el('th', '', t(key)));
    }
    table.append(el('thead'));
    table.tHead?.append(head);
    const tbody = el('tbody');
    for (const row of rows) {
      const tr = el('tr');
      const name = el('td', 'kpi-name', row.name ?? row.key ?? '—');
      name.title = row.key ?? '';
      tr.append(name, el('td', 'kpi-num', String(row.filed)), el('td', 'kpi-num', String(row.closed)));
      for (const rate of RATES) {
        const td = el('td', 'kpi-num', percent(row.rates[rate.key]));
        td.dataset.rate = rate.key;
        tr.append(td);
      }
      tbody.append(tr);
    }
    table.append(tbody);
    box.append(table);
    return box;
  }
}
