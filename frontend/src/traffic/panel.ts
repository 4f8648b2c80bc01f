/**
 * The traffic panel (right side, foldable): the seat's traffic index (TPI 0–10) with its level
 * word and each township's, then two tabs: the open traffic alerts (alertList.ts) and the pilot
 * segments with speed, level and usual speed. Everything comes from TrafficStore; clicking an
 * alert or a pilot segment asks the map to show it.
 */

import { absoluteUrl } from '../api';
import { el } from '../dom';
import { getLang, onLangChange, otherLang, pick } from '../i18n';
import { AlertList, clockTime, kmh } from './alertList';
import { tt } from './strings';
import type { TrafficStore } from './store';
import { LEVEL_COLORS, LEVEL_NAMES, levelOf, type PilotSegment, type TrafficAlert } from './types';

type Tab = 'alerts' | 'pilot';

export interface TrafficPanelOptions {
  onAlert: (alert: TrafficAlert) => void;
  onPilot: (pilot: PilotSegment) => void;
  canAct: () => boolean;
}

function tpiText(tpi: number | null): string {
  return typeof tpi === 'number' ? tpi.toFixed(1) : '—';
}

export class TrafficPanel {
  readonly root: HTMLElement;
  private readonly heading = el('h2', 'panel-title');
  private readonly collapseButton = el('button', 'panel-collapse');
  private readonly tpi = el('section', 'traffic-tpi');
  private readonly tabs = el('div', 'traffic-tabs');
  private readonly alertTab = el('button', 'traffic-tab');
  private readonly pilotTab = el('button', 'traffic-tab');
  private readonly note = el('p', 'panel-note');
  private readonly feed = el('a', 'traffic-feed');
  private readonly pilotList = el('ul', 'traffic-pilot');
  private readonly alerts: AlertList;
  private tab: Tab = 'alerts';
  private frame = 0;
  private readonly toggleListeners = new Set<(open: boolean) => void>();

  constructor(stage: HTMLElement, private readonly store: TrafficStore, private readonly options: TrafficPanelOptions) {
    this.root = el('aside', 'panel traffic-panel');
    this.root.dataset.testid = 'traffic-panel';
    this.root.hidden = true;
    this.collapseButton.type = 'button';
    this.collapseButton.dataset.testid = 'traffic-panel-toggle';
    this.collapseButton.addEventListener('click', () => this.setCollapsed(!this.collapsed));
    const header = el('div', 'panel-header');
    const badge = el('span', 'badge-synthetic traffic-synthetic');
    badge.dataset.testid = 'traffic-synthetic';
    const titleRow = el('div', 'alarm-title-row');
    titleRow.append(this.heading, badge);
    header.append(titleRow, this.collapseButton);

    this.tpi.dataset.testid = 'traffic-tpi';
    for (const [button, tab] of [[this.alertTab, 'alerts'], [this.pilotTab, 'pilot']] as const) {
      button.type = 'button';
      button.dataset.tab = tab;
      button.dataset.testid = `traffic-tab-${tab}`;
      button.addEventListener('click', () => {
        this.tab = tab;
        this.render();
      });
    }
    this.tabs.append(this.alertTab, this.pilotTab);
    this.feed.href = absoluteUrl('/api/traffic/alerts.atom');
    this.feed.target = '_blank';
    this.feed.rel = 'noopener';
    this.feed.dataset.testid = 'traffic-feed';
    this.pilotList.dataset.testid = 'traffic-pilot';
    this.alerts = new AlertList(store, { onSelect: options.onAlert, canAct: options.canAct });
    const body = el('div', 'panel-body traffic-body');
    body.append(this.tpi, this.tabs, this.note, this.alerts.root, this.pilotList, this.feed);
    this.root.append(header, body);
    stage.append(this.root);
    store.onChange(() => this.schedule());
    onLangChange(() => this.render());
    window.setInterval(() => this.schedule(), 60_000); // "today" times roll over at midnight
    this.render();
  }

  get open(): boolean {
    return !this.root.hidden;
  }

  get collapsed(): boolean {
    return this.root.classList.contains('collapsed');
  }

  onToggle(listener: (open: boolean) => void): void {
    this.toggleListeners.add(listener);
  }

  setOpen(open: boolean): void {
    this.root.hidden = !open;
    document.body.classList.toggle('traffic-open', open && !this.collapsed);
    for (const listener of this.toggleListeners) listener(open);
  }

  setCollapsed(collapsed: boolean): void {
    this.root.classList.toggle('collapsed', collapsed);
    document.body.classList.toggle('traffic-open', this.open && !collapsed);
    this.render();
  }

  showTab(tab: Tab): void {
    this.tab = tab;
    this.render();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render(): void {
    const lang = getLang();
    this.heading.replaceChildren(el('span', 'name-main', tt('trafficPanel', lang)), el('span', 'name-sub', tt('trafficPanel', otherLang(lang))));
    const badge = this.root.querySelector<HTMLElement>('.traffic-synthetic');
    if (badge) {
      badge.textContent = tt('synthetic', lang);
      badge.title = tt('syntheticHint', lang);
    }
    const label = tt(this.collapsed ? 'expand' : 'collapse', lang);
    this.collapseButton.title = label;
    this.collapseButton.setAttribute('aria-label', label);
    this.collapseButton.setAttribute('aria-expanded', String(!this.collapsed));
    this.collapseButton.textContent = this.collapsed ? '🚦' : '›';
    this.renderTpi();
    const count = this.store.alerts.size;
    this.alertTab.replaceChildren(tt('alerts', lang), el('span', 'traffic-count', String(count)));
    this.alertTab.querySelector('.traffic-count')!.setAttribute('data-level', count ? 'warning' : 'none');
    this.pilotTab.replaceChildren(tt('pilot', lang), el('span', 'traffic-count', String(this.store.pilot?.length ?? 0)));
    for (const b of [this.alertTab, this.pilotTab]) b.setAttribute('aria-pressed', String(b.dataset.tab === this.tab));
    const onAlerts = this.tab === 'alerts';
    this.alerts.root.hidden = !onAlerts;
    this.pilotList.hidden = onAlerts;
    this.feed.hidden = !onAlerts;
    this.feed.textContent = `⤓ ${tt('capFeed', lang)} (Atom)`;
    this.feed.title = tt('capFeedTitle', lang);
    let note = '';
    if (onAlerts) {
      this.alerts.render();
      if (this.store.failed.alerts && !count) note = tt('alertsFailed', lang);
      else if (!count) note = tt('alertsEmpty', lang);
    } else {
      this.renderPilot();
      if (this.store.failed.pilot && !this.store.pilot?.length) note = tt('pilotFailed', lang);
      else if (this.store.pilot && !this.store.pilot.length) note = tt('pilotEmpty', lang);
    }
    this.note.textContent = note;
    this.note.hidden = !note;
    this.root.dataset.alerts = String(count);
  }

  private renderTpi(): void {
    const lang = getLang();
    const index = this.store.index;
    const level = levelOf(index?.seat.level);
    const seat = el('div', 'tpi-seat');
    const value = el('div', 'tpi-value', tpiText(index?.seat.tpi ?? null));
    value.dataset.testid = 'traffic-tpi-value';
    value.style.setProperty('--level', LEVEL_COLORS[level]);
    const words = el('div', 'tpi-words');
    words.append(
      el('span', 'tpi-label', `${tt('tpi', lang)} · ${tt('tpiSeat', lang)}`),
      el('span', 'tpi-level', pick(LEVEL_NAMES[level], lang)),
      el('span', 'tpi-time', index?.time ? `${tt('updated', lang)} ${clockTime(index.time)}` : ''),
    );
    (words.children[1] as HTMLElement).style.color = LEVEL_COLORS[level];
    (words.children[1] as HTMLElement).dataset.testid = 'traffic-tpi-level';
    seat.append(value, words);
    seat.title = tt('tpiHint', lang);
    const towns = el('ul', 'tpi-towns');
    towns.dataset.testid = 'traffic-townships';
    // The most congested first; townships without an index (no published speed) last.
    const ranked = [...(index?.townships ?? [])].sort((a, b) => (b.tpi ?? -1) - (a.tpi ?? -1));
    for (const town of ranked) {
      const townLevel = levelOf(town.level);
      const li = el('li', 'tpi-town');
      const bar = el('span', 'tpi-bar');
      bar.style.setProperty('--level', LEVEL_COLORS[townLevel]);
      bar.style.setProperty('--fill', `${Math.min(100, Math.max(0, ((town.tpi ?? 0) / 10) * 100))}%`);
      li.title = `${town.name}: ${pick(LEVEL_NAMES[townLevel], lang)}`;
      li.append(el('span', 'tpi-town-name', town.name), bar, el('span', 'tpi-town-value', tpiText(town.tpi)));
      towns.append(li);
    }
    const parts: HTMLElement[] = [seat];
    if (index?.townships.length) parts.push(el('div', 'traffic-subhead', tt('tpiTownships', lang)), towns);
    else if (this.store.failed.index) parts.push(el('p', 'panel-note', tt('unavailable', lang)));
    this.tpi.replaceChildren(...parts);
  }

  private renderPilot(): void {
    const lang = getLang();
    this.pilotList.replaceChildren(
      ...(this.store.pilot ?? []).map((p) => {
        const level = levelOf(p.level);
        const li = el('li', 'traffic-pilot-item');
        li.dataset.testid = 'traffic-pilot-item';
        li.dataset.code = p.code;
        li.style.setProperty('--level', LEVEL_COLORS[level]);
        li.tabIndex = 0;
        li.addEventListener('click', () => this.options.onPilot(p));
        li.addEventListener('keydown', (e) => {
          if (e.key === 'Enter') this.options.onPilot(p);
        });
        const top = el('div', 'traffic-pilot-top');
        top.append(el('span', 'traffic-pilot-code', p.code), el('span', 'traffic-pilot-name', p.name));
        const chip = el('span', 'level-chip', pick(LEVEL_NAMES[level], lang));
        chip.style.setProperty('--level', LEVEL_COLORS[level]);
        const meta = el('div', 'traffic-alert-meta');
        const speeds = el('span', 'traffic-alert-speed', `${kmh(p.speed_kmh)} / ${kmh(p.typical_kmh)} km/h`);
        speeds.title = `${tt('speed', lang)} / ${tt('typicalLong', lang)}`;
        meta.append(chip, speeds);
        if (p.road_name || p.direction) meta.append(el('span', 'traffic-pilot-road', [p.road_name, p.direction].filter(Boolean).join(' ')));
        li.append(top, meta);
        return li;
      }),
    );
  }
}
