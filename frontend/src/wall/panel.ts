/**
 * One wall panel: a title (Chinese, English beneath), a body, and its staleness. A panel is
 * stale ("数据延迟 / stale", greyed) while one of its hub channels is down or while its data is
 * older than its limit; `window.__wall.stale` lists the stale panels for the tests.
 */

import { el } from '../dom';
import { both, type TextKey } from './text';

const AGE_CHECK_MS = 5_000;

export const reducedMotion = (): boolean => window.matchMedia('(prefers-reduced-motion: reduce)').matches;

export class WallPanel {
  readonly root: HTMLElement;
  readonly body: HTMLElement;
  private readonly staleBadge: HTMLElement;
  private down = false;
  private freshAt = 0;
  private readonly listeners = new Set<() => void>();

  /** `maxAgeMs`: data older than this is stale (0: only the connection decides). */
  constructor(readonly id: string, title: TextKey, private readonly maxAgeMs = 0) {
    this.root = el('section', 'wall-panel');
    this.root.dataset.panel = id;
    this.root.dataset.testid = `wall-panel-${id}`;
    const head = el('header', 'wall-panel-head');
    const [zh, en] = both(title).split(' / ');
    head.append(el('h2', 'wall-panel-title', zh), el('span', 'wall-panel-sub', en));
    this.staleBadge = el('span', 'wall-stale', '数据延迟 / stale');
    this.staleBadge.hidden = true;
    head.append(this.staleBadge);
    this.body = el('div', 'wall-panel-body');
    this.root.append(head, this.body);
    if (maxAgeMs) window.setInterval(() => this.renderStale(), AGE_CHECK_MS);
  }

  /** The panel's channel is down (true) or back (false). */
  setDown(down: boolean): void {
    this.down = down;
    this.renderStale();
  }

  /** New data arrived (at `at`, default now). */
  fresh(at = Date.now()): void {
    this.freshAt = at;
    this.renderStale();
  }

  get stale(): boolean {
    return this.down || (this.maxAgeMs > 0 && this.freshAt > 0 && Date.now() - this.freshAt > this.maxAgeMs);
  }

  onStale(listener: () => void): void {
    this.listeners.add(listener);
  }

  private renderStale(): void {
    const stale = this.stale;
    if (this.root.classList.contains('is-stale') === stale) return;
    this.root.classList.toggle('is-stale', stale);
    this.staleBadge.hidden = !stale;
    for (const listener of this.listeners) listener();
  }
}

const running = new WeakMap<HTMLElement, number>();

/** Shows `value` in `node`, counting from the shown value over ~600 ms (at once when the user
 *  prefers reduced motion or nothing was shown yet). */
export function countTo(node: HTMLElement, value: number | null, decimals = 0, duration = 600): void {
  const text = (v: number): string => v.toLocaleString('zh-CN', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  cancelAnimationFrame(running.get(node) ?? 0);
  if (value === null || !Number.isFinite(value)) {
    node.textContent = '—';
    delete node.dataset.value;
    return;
  }
  const from = Number(node.dataset.value);
  node.dataset.value = String(value);
  if (!Number.isFinite(from) || from === value || reducedMotion()) {
    node.textContent = text(value);
    return;
  }
  const start = performance.now();
  const step = (now: number): void => {
    const p = Math.min(1, (now - start) / duration);
    const eased = 1 - (1 - p) ** 3;
    node.textContent = text(from + (value - from) * eased);
    if (p < 1) running.set(node, requestAnimationFrame(step));
  };
  running.set(node, requestAnimationFrame(step));
}

/** A big figure with its label: the element whose number `countTo` animates. */
export function figure(label: string, testid: string): { root: HTMLElement; value: HTMLElement } {
  const root = el('div', 'wall-figure');
  const value = el('div', 'wall-figure-value', '—');
  value.dataset.testid = testid;
  root.append(value, el('div', 'wall-figure-label', label));
  return { root, value };
}
