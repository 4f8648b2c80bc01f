/**
 * The carousel: the centre shows the county overview, then each domain view in turn, every
 * `carousel_s` seconds (from /api/domains; `?carousel=` overrides it, e.g. for a rehearsal). It
 * pauses while someone touches the wall (pointer, wheel, keys) and for PAUSE_AFTER_MS after the
 * last touch; the row of tabs shows where it is and jumps on a click.
 */

import { el } from '../dom';
import { pick, type Bilingual } from '../i18n';
import { w } from './text';

export const OVERVIEW = 'overview';
const PAUSE_AFTER_MS = 60_000;
const MIN_INTERVAL_S = 2;

export interface Stop {
  id: string;
  title: Bilingual;
}

export class Carousel {
  stops: Stop[] = [{ id: OVERVIEW, title: { zh: '全县总览', en: 'County overview' } }];
  current = OVERVIEW;
  paused = false;
  intervalS = 30;
  private timer = 0;
  private resumeTimer = 0;
  private readonly listeners = new Set<(id: string) => void>();
  private readonly pauseBadge: HTMLElement;

  constructor(private readonly tabs: HTMLElement) {
    this.pauseBadge = el('span', 'wall-paused', w('paused'));
    this.pauseBadge.hidden = true;
    const touched = (): void => this.touch();
    for (const type of ['pointerdown', 'wheel', 'keydown'] as const) {
      document.addEventListener(type, touched, { passive: true, capture: true });
    }
  }

  onShow(listener: (id: string) => void): void {
    this.listeners.add(listener);
  }

  setStops(domains: Stop[], intervalS: number): void {
    this.stops = [this.stops[0]!, ...domains];
    const asked = Number(new URLSearchParams(location.search).get('carousel'));
    this.intervalS = Math.max(MIN_INTERVAL_S, Number.isFinite(asked) && asked > 0 ? asked : intervalS);
    this.renderTabs();
    this.schedule();
  }

  show(id: string): void {
    if (!this.stops.some((s) => s.id === id)) return;
    this.current = id;
    this.renderTabs();
    for (const listener of this.listeners) listener(id);
    this.schedule();
  }

  next(): void {
    const i = this.stops.findIndex((s) => s.id === this.current);
    this.show(this.stops[(i + 1) % this.stops.length]!.id);
  }

  /** Someone touched the wall: pause now, resume PAUSE_AFTER_MS after the last touch. */
  touch(): void {
    this.paused = true;
    this.pauseBadge.hidden = false;
    window.clearTimeout(this.timer);
    window.clearTimeout(this.resumeTimer);
    this.resumeTimer = window.setTimeout(() => {
      this.paused = false;
      this.pauseBadge.hidden = true;
      this.schedule();
    }, PAUSE_AFTER_MS);
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    if (this.paused || this.stops.length < 2) return;
    this.timer = window.setTimeout(() => this.next(), this.intervalS * 1000);
  }

  private renderTabs(): void {
    this.tabs.replaceChildren();
    for (const stop of this.stops) {
      const tab = el('button', `wall-tab${stop.id === this.current ? ' is-active' : ''}`, pick(stop.title));
      tab.type = 'button';
      tab.dataset.view = stop.id;
      tab.dataset.testid = 'wall-tab';
      tab.addEventListener('click', () => this.show(stop.id));
      this.tabs.append(tab);
    }
    this.tabs.append(this.pauseBadge);
  }
}
