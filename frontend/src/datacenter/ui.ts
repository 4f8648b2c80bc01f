/**
 * Small building blocks of the data center's pages: tables, badges, score chips, times, error
 * lines. Everything is built with the console's one DOM helper (../dom); no innerHTML.
 */

import { ApiError } from '../api';
import { el } from '../dom';
import { describeError } from '../toast';
import { getLang, isKey, label, s, type Key } from './i18n';
import type { DatasetSummary } from './types';

export { button, el } from '../dom';

/** A cell: text, a node, or nothing (—). */
export type Cell = string | number | Node | null | undefined;

function cellNode(value: Cell): Node {
  if (value === null || value === undefined || value === '') return document.createTextNode('—');
  if (typeof value === 'string' || typeof value === 'number') return document.createTextNode(String(value));
  return value;
}

/** A table in a horizontally scrolling box (a 390 px phone scrolls it, the page does not). */
export function table(headers: (Key | string)[], rows: Cell[][], testid = ''): HTMLElement {
  const box = el('div', 'dc-table-box');
  const node = el('table', 'dc-table');
  if (testid) node.dataset.testid = testid;
  const head = el('thead');
  const tr = el('tr');
  for (const h of headers) tr.append(el('th', '', isKey(h) ? s(h) : h));
  head.append(tr);
  const body = el('tbody');
  for (const row of rows) {
    const line = el('tr');
    for (const c of row) {
      const td = el('td');
      td.append(cellNode(c));
      line.append(td);
    }
    body.append(line);
  }
  node.append(head, body);
  box.append(node);
  return box;
}

/** A section with a heading (h2) and optional tools beside it. */
export function section(title: string, testid = '', ...tools: Node[]): { root: HTMLElement; body: HTMLElement } {
  const root = el('section', 'dc-section');
  if (testid) root.dataset.testid = testid;
  const head = el('div', 'dc-section-head');
  head.append(el('h2', 'dc-h2', title), ...tools);
  const body = el('div', 'dc-section-body');
  root.append(head, body);
  return { root, body };
}

export function badge(text: string, kind: string, title = ''): HTMLElement {
  const node = el('span', `dc-badge dc-badge-${kind}`, text);
  if (title) node.title = title;
  return node;
}

export function shareBadge(shareType: string): HTMLElement {
  const node = badge(label('share_type', shareType), `share-${shareType}`);
  node.dataset.testid = 'share-badge';
  return node;
}

export function syntheticTag(): HTMLElement {
  const node = badge(s('synthetic'), 'synthetic', s('syntheticTitle'));
  node.dataset.testid = 'synthetic-tag';
  return node;
}

/** Scores on 0..100; a score given as a fraction (0..1) is scaled. */
export function score100(value: number | null | undefined): number | null {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  return value <= 1 && value >= 0 && value !== 0 ? value * 100 : value;
}

export function band(value: number | null | undefined): 'good' | 'fair' | 'weak' | 'bad' | 'none' {
  const v = score100(value);
  if (v === null) return 'none';
  if (v >= 90) return 'good';
  if (v >= 75) return 'fair';
  if (v >= 60) return 'weak';
  return 'bad';
}

export function fmtScore(value: number | null | undefined): string {
  const v = score100(value);
  return v === null ? '—' : v.toFixed(1);
}

/** A score chip coloured by band. */
export function scoreChip(value: number | null | undefined): HTMLElement {
  const node = el('span', `dc-score dc-score-${band(value)}`, value === null || value === undefined ? s('noScore') : fmtScore(value));
  node.dataset.testid = 'score';
  node.title = s('score');
  return node;
}

export function failingChip(failing: number): HTMLElement {
  const node = el('span', failing > 0 ? 'dc-failing dc-failing-some' : 'dc-failing', `${failing} ${s('failing')}`);
  node.dataset.testid = 'failing';
  return node;
}

function localeTag(): string {
  return getLang() === 'zh' ? 'zh-CN' : 'en-GB';
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(localeTag(), { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
}

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(localeTag(), { year: 'numeric', month: '2-digit', day: '2-digit' });
}

export function fmtCount(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString(localeTag());
}

/**
 * A time limit: the due time, and how long is left (clock time; the server counts working
 * time and says `overdue`), red when overdue.
 */
export function dueNode(dueAt: string | null | undefined, overdue = false): HTMLElement {
  const node = el('span', 'dc-due');
  node.dataset.testid = 'due';
  if (!dueAt) {
    node.textContent = '—';
    return node;
  }
  const left = new Date(dueAt).getTime() - Date.now();
  const late = overdue || left < 0;
  node.classList.toggle('dc-due-late', late);
  node.dataset.overdue = String(late);
  let rel: string;
  if (late) rel = s('overdue');
  else if (left < 48 * 3600_000) rel = `${s('dueIn')} ${Math.max(1, Math.round(left / 3600_000))} ${s('hours')}`;
  else rel = `${s('dueIn')} ${Math.round(left / 86400_000)} ${s('dayUnit')}`;
  node.textContent = `${fmtTime(dueAt)} · ${rel}`;
  return node;
}

/** The user-facing message of a failed call: the server's `detail` when it sent one. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.detail ?? `${err.message}`;
  return describeError(err);
}

/** A line saying something failed, with a retry button. */
export function failure(err: unknown, retry?: () => void): HTMLElement {
  const node = el('div', 'dc-error');
  node.setAttribute('role', 'alert');
  node.dataset.testid = 'load-error';
  const status = err instanceof ApiError && err.status === 403 ? s('notAllowed') : s('loadFailed');
  node.append(el('strong', '', status), el('span', '', ` ${errorText(err)}`));
  if (retry) {
    const again = el('button', 'dc-button dc-button-small', s('retry'));
    again.type = 'button';
    again.addEventListener('click', retry);
    node.append(again);
  }
  return node;
}

export function loadingNode(): HTMLElement {
  return el('div', 'dc-loading', s('loading'));
}

/** A link to a dataset page (the hash route). */
export function datasetLink(d: Pick<DatasetSummary, 'id' | 'name'> & { name_en?: string | null }): HTMLAnchorElement {
  const a = el('a', 'dc-link', getLang() === 'en' && d.name_en ? d.name_en : d.name);
  a.href = `#dataset/${encodeURIComponent(d.id)}`;
  a.dataset.testid = 'dataset-link';
  return a;
}

/** A definition list of label / value pairs. */
export function facts(pairs: [Key, Cell][]): HTMLElement {
  const dl = el('dl', 'dc-facts');
  for (const [k, v] of pairs) {
    const dt = el('dt', '', s(k));
    const dd = el('dd');
    dd.append(cellNode(v));
    dl.append(dt, dd);
  }
  return dl;
}

export function field(labelText: string, control: HTMLElement): HTMLLabelElement {
  const node = el('label', 'dc-field');
  node.append(el('span', 'dc-field-label', labelText), control);
  return node;
}
