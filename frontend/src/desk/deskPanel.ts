/**
 * The dispatch desk panel (left, beside the layer panel): counts by stage that also
 * filter the queue, the queue in the server's order (urgent first, then least time left) with a
 * coloured countdown, the 督办 badge and a highlight for cases a live event just changed; a
 * click opens the case (DeskDetail) and shows it on the map.
 */

import { getLang, onLangChange, otherLang, t, type StringKey } from '../i18n';
import { badge, countdown, DeskDetail, statePill } from './deskDetail';
import type { DeskMap } from './deskMap';
import { button, el } from './dom';
import { countdownLevel, countdownText, formatTime, IN_HAND, TO_DISPATCH } from './names';
import type { DeskStore } from './store';
import type { Incident } from './types';

type Filter = 'all' | 'reported' | 'dispatch' | 'hand' | 'overdue' | 'supervised';

const FILTERS: { key: Filter; label: StringKey; test: (c: Incident) => boolean }[] = [
  { key: 'all', label: 'deskAll', test: () => true },
  { key: 'reported', label: 'deskToFile', test: (c) => c.state === 'reported' },
  { key: 'dispatch', label: 'deskToDispatch', test: (c) => TO_DISPATCH.has(c.state) },
  { key: 'hand', label: 'deskInHand', test: (c) => IN_HAND.has(c.state) },
  { key: 'overdue', label: 'deskOverdue', test: (c) => c.overdue },
  { key: 'supervised', label: 'deskSupervised', test: (c) => c.supervised },
];
const TICK_MS = 1000;

export class DeskPanel {
  readonly root: HTMLElement;
  private readonly count: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly body: HTMLElement;
  private readonly detail: DeskDetail;
  private filter: Filter = 'all';
  private frame = 0;
  private tick = 0;
  private listScroll = 0;
  private readonly closeListeners = new Set<() => void>();

  constructor(
    host: HTMLElement,
    private readonly store: DeskStore,
    private readonly map: DeskMap,
  ) {
    this.root = el('aside', 'panel desk-panel');
    this.root.dataset.testid = 'desk-panel';
    this.root.hidden = true;
    const header = el('div', 'panel-header');
    this.heading = el('h2', 'panel-title');
    this.count = el('span', 'desk-count');
    this.count.dataset.testid = 'desk-count';
    const titleRow = el('div', 'desk-title-row');
    titleRow.append(this.heading, this.count);
    const close = button('panel-collapse', '×', () => {
      for (const listener of this.closeListeners) listener();
    });
    close.dataset.testid = 'desk-close';
    close.title = t('deskClose');
    header.append(titleRow, close);
    this.body = el('div', 'panel-body desk-body');
    this.root.append(header, this.body);
    host.append(this.root);

    map.coveredLeft = () => {
      if (!this.open) return 0;
      const stage = host.getBoundingClientRect();
      return Math.max(0, this.root.getBoundingClientRect().right - stage.left);
    };
    this.detail = new DeskDetail(store, {
      focus: (lon, lat) => map.focus(lon, lat, 16),
      back: () => store.select(null),
    });
    store.onChange((part) => {
      if (part === 'queue' || part === 'detail') this.map.setCases(store.queue, store.selectedId);
      this.schedule();
      if (part === 'nearby' || part === 'detail') this.map.setNearby(store.selectedRow, store.nearby, store.radius);
    });
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
    this.map.setVisible(open);
    window.clearInterval(this.tick);
    if (open) {
      this.tick = window.setInterval(() => this.updateCountdowns(), TICK_MS);
      this.render();
    }
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Refreshes the countdowns in place, once a second (no re-render). */
  private updateCountdowns(): void {
    const now = Date.now();
    for (const node of this.root.querySelectorAll<HTMLElement>('.desk-countdown[data-due]')) {
      const due = node.dataset.due ?? null;
      node.textContent = countdownText(due, now);
      node.dataset.level = countdownLevel(due, now);
    }
  }

  private render(): void {
    const lang = getLang();
    this.heading.replaceChildren(el('span', 'name-main', t('deskQueue', lang)), el('span', 'name-sub', t('deskQueue', otherLang(lang))));
    this.count.textContent = String(this.store.summary?.open ?? this.store.total);
    this.count.dataset.level = this.store.summary?.overdue ? 'late' : 'none';
    if (!this.open) return;
    const list = this.body.querySelector('.desk-list');
    if (list) this.listScroll = this.body.scrollTop;
    this.detail.captureInputs(this.body);
    const focused = document.activeElement as HTMLElement | null;
    const focusKey = focused && this.body.contains(focused) ? focused.dataset.field ?? focused.dataset.testid : undefined;
    if (this.store.selectedId !== null) {
      this.body.replaceChildren(this.detail.render());
    } else {
      this.detail.reset();
      this.body.replaceChildren(this.renderStrip(), this.renderQueue());
      this.body.scrollTop = this.listScroll;
    }
    if (focusKey) {
      const again = this.body.querySelector<HTMLElement>(`[data-field="${focusKey}"], [data-testid="${focusKey}"]`);
      again?.focus();
    }
  }

  private renderStrip(): HTMLElement {
    const strip = el('div', 'desk-strip');
    strip.dataset.testid = 'desk-strip';
    const s = this.store.summary;
    const counts: Record<Filter, number | null> = {
      all: s ? s.open : this.store.queue.length,
      reported: s ? s.states.reported ?? 0 : null,
      dispatch: s ? (s.states.filed ?? 0) + (s.states.returned ?? 0) : null,
      hand: s ? [...IN_HAND].reduce((n, k) => n + (s.states[k] ?? 0), 0) : null,
      overdue: s ? s.overdue : null,
      supervised: s ? s.supervised : null,
    };
    for (const f of FILTERS) {
      const chip = button(`desk-chip desk-chip-${f.key}`, '', () => {
        this.filter = this.filter === f.key ? 'all' : f.key;
        this.listScroll = 0;
        this.render();
      });
      chip.dataset.testid = `desk-filter-${f.key}`;
      chip.setAttribute('aria-pressed', String(this.filter === f.key));
      const n = counts[f.key];
      const value = el('span', 'desk-chip-n', n === null ? '–' : String(n));
      if ((f.key === 'overdue' || f.key === 'supervised') && n) value.dataset.alert = 'true';
      chip.append(value, el('span', 'desk-chip-label', t(f.label)));
      strip.append(chip);
    }
    if (s) {
      const today = el('div', 'desk-strip-note', `${t('deskClosedToday')} ${s.closed_today}`);
      strip.append(today);
    }
    return strip;
  }

  private renderQueue(): HTMLElement {
    const store = this.store;
    const wrap = el('div', 'desk-list-wrap');
    const test = FILTERS.find((f) => f.key === this.filter)?.test ?? (() => true);
    const cases = store.queue.filter(test);
    let note = '';
    if (store.available === false) note = t('deskUnavailable');
    else if (store.available === null && !store.failed) note = t('loading');
    else if (store.failed && !store.queue.length) note = `${t('deskFailed')}: ${store.failed}`;
    else if (!store.queue.length) note = t('deskEmpty');
    else if (!cases.length) note = t('deskNoMatch');
    if (note) {
      const p = el('p', 'panel-note', note);
      p.dataset.testid = 'desk-note';
      wrap.append(p);
    }
    const list = el('ul', 'desk-list');
    list.dataset.testid = 'desk-queue';
    const now = Date.now();
    for (const c of cases) list.append(this.renderItem(c, now));
    wrap.append(list);
    return wrap;
  }

  private renderItem(c: Incident, now: number): HTMLElement {
    const item = el('li', 'desk-case');
    item.dataset.testid = 'desk-case';
    item.dataset.caseId = String(c.id);
    item.dataset.state = c.state;
    item.dataset.level = c.overdue ? 'overdue' : c.urgency === 'urgent' ? 'urgent' : 'normal';
    if ((this.store.flashed.get(c.id) ?? 0) > now) item.classList.add('flash');
    item.tabIndex = 0;
    const open = (): void => {
      this.store.select(c.id);
      this.map.focus(c.lon, c.lat);
    };
    item.addEventListener('click', open);
    item.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') open();
    });
    const top = el('div', 'desk-case-top');
    if (c.urgency === 'urgent') top.append(badge('desk-badge-urgent', t('deskUrgent')));
    top.append(el('span', 'desk-case-no', c.case_no), statePill(c.state));
    if (c.supervised) top.append(badge('desk-badge-supervised', '督办', t('deskSupervised', 'en')));
    if (c.extension_pending) top.append(badge('desk-badge-ext', t('deskExtensionPending')));
    const mid = el('div', 'desk-case-mid');
    mid.append(
      el('span', 'desk-case-cat', c.category_name ?? c.category_code),
      el('span', 'desk-case-place', [c.township_name, c.grid_name].filter(Boolean).join(' · ')),
    );
    const bottom = el('div', 'desk-case-bottom');
    bottom.append(
      countdown(c.stage_due_at, `${t('caseReported')} ${formatTime(c.reported_at)}`),
      el('span', 'desk-case-dept', c.department_name ?? c.department_code ?? ''),
    );
    item.append(top, mid, bottom);
    return item;
  }
}
