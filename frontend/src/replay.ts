/**
 * Replay a line: pick a line (`GET /api/lines`) and a window (default the last hour), load
 * `GET /api/lines/{id}/replay?from&to&zoom` and play it with a time slider (play/pause,
 * 1x/10x/60x): each bus at its interpolated position for the slider's time, the line and its
 * stops, and the window's alarms as markers (bright while active at that time). The live buses
 * are hidden while a replay is shown.
 *
 * This module is the replay bar (its controls, loading a window, playback and the clock); what is
 * drawn on the map is in replayMap.ts, the payload and the interpolation in replayData.ts.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';
import { getJSON, isStatus } from './api';
import { getLang, locale, onLangChange, otherLang, t } from './i18n';
import {
  cleanVehicles,
  lineFeatures,
  replayBounds,
  stopFeatures,
  type BusAt,
  type LineSummary,
  type ReplayPayload,
  type ReplayVehicle,
} from './replayData';
import type { Alarm } from './alarmStore';
import { BUS_COLOR, busesAt, clearReplayMap, drawReplayStatic, replayAlarmFeatures, setReplayAlarms, setReplayBuses } from './replayMap';
import { firstMark, replayMarks, type ReplayMarks } from './replayMarks';
import { ReplayPlayer } from './replayPlayer';
import { describeError } from './toast';

const SPEEDS = [1, 10, 60];
const DEFAULT_SPEED = 10;
const MAX_WINDOW_MS = 24 * 3600_000;

type State = 'closed' | 'idle' | 'loading' | 'ready' | 'playing';

declare global {
  interface Window {
    /** The replay's state, for end-to-end tests. */
    __replay?: { state: State; time: number; from: number; to: number; buses: BusAt[]; alarms: number; line: string | null; marks: ReplayMarks };
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** `<input type="datetime-local">` value of a time, in the browser's time zone. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The clock: the time of day, with the date when the window spans more than one day. */
function replayClock(time: number, from: number, to: number): string {
  if (!time) return '--:--:--';
  const d = new Date(time);
  const sameDay = new Date(from).toDateString() === new Date(to).toDateString();
  const clock = d.toLocaleTimeString(locale(), { hour12: false });
  return sameDay ? clock : `${d.toLocaleDateString(locale(), { month: '2-digit', day: '2-digit' })} ${clock}`;
}

export interface ReplayHooks {
  /** Hide the live buses while replaying, show them again after. */
  setLiveVisible: (visible: boolean) => void;
}

export class Replay {
  readonly toggleButton: HTMLButtonElement;
  private state: State = 'closed';
  private lines: LineSummary[] | null = null;
  private linesUnavailable = false;
  private vehicles: ReplayVehicle[] = [];
  private alarms: Alarm[] = [];
  private lineColor = BUS_COLOR;
  private lineName: string | null = null;
  private message = '';
  private abort: AbortController | null = null;
  private alarmKey = '';
  private placeFrame = 0;
  private readonly watcher: MutationObserver;

  private readonly title = el('div', 'replay-title');
  private readonly lineSelect = el('select', 'replay-select');
  private readonly fromInput = el('input', 'replay-time-input');
  private readonly toInput = el('input', 'replay-time-input');
  private readonly loadButton = el('button', 'replay-btn primary');
  private readonly closeButton = el('button', 'replay-close');
  private readonly status = el('div', 'replay-status');
  private marks: ReplayMarks = { data: [], alarms: [] };
  private readonly player: ReplayPlayer;
  private readonly labels: Record<string, HTMLElement> = {};

  constructor(
    private readonly root: HTMLElement,
    private readonly map: MapLibreMap,
    private readonly hooks: ReplayHooks,
  ) {
    root.classList.add('replay-bar');
    root.dataset.testid = 'replay-bar';
    root.hidden = true;
    this.toggleButton = el('button', 'header-button replay-toggle');
    this.toggleButton.type = 'button';
    this.toggleButton.dataset.testid = 'replay-toggle';
    this.toggleButton.addEventListener('click', () => (this.state === 'closed' ? this.open() : this.close()));

    const field = (key: string, input: HTMLElement): HTMLElement => {
      const label = el('label', 'replay-field');
      const text = el('span', 'replay-label');
      this.labels[key] = text;
      label.append(text, input);
      return label;
    };
    this.lineSelect.dataset.testid = 'replay-line';
    this.fromInput.type = 'datetime-local';
    this.fromInput.dataset.testid = 'replay-from';
    this.toInput.type = 'datetime-local';
    this.toInput.dataset.testid = 'replay-to';
    this.loadButton.type = 'button';
    this.loadButton.dataset.testid = 'replay-load';
    this.loadButton.addEventListener('click', () => void this.load());
    this.closeButton.type = 'button';
    this.closeButton.textContent = '×';
    this.closeButton.dataset.testid = 'replay-close';
    this.closeButton.addEventListener('click', () => this.close());
    this.status.dataset.testid = 'replay-status';

    this.player = new ReplayPlayer({
      testid: 'replay', speeds: SPEEDS, speed: DEFAULT_SPEED, step: 1000,
      onTime: (time) => this.draw(time),
      onToggle: () => (this.state === 'playing' ? this.pause() : this.play()),
      onChange: () => {
        if (this.state === 'playing' && !this.player.playing) this.state = 'ready';
        this.render();
      },
      clock: replayClock,
    });

    const top = el('div', 'replay-row');
    top.append(this.title, field('line', this.lineSelect), field('from', this.fromInput), field('to', this.toInput), this.loadButton);
    root.append(top, this.player.row, this.status, this.closeButton);
    onLangChange(() => {
      this.render();
      this.seek(this.player.time); // the alarm markers' names
    });
    // Other panels on the map (layers, alarms, the dispatch desk) open and close: the bar keeps
    // to the free space between them.
    this.watcher = new MutationObserver((records) => {
      if (records.some((r) => r.target !== this.root)) this.schedulePlace();
    });
    window.addEventListener('resize', () => this.schedulePlace());
    this.render();
    this.publish([]);
  }

  open(): void {
    if (this.state !== 'closed') return;
    this.state = 'idle';
    const now = Date.now();
    this.toInput.value = localInput(now);
    this.fromInput.value = localInput(now - 3600_000);
    this.root.hidden = false;
    document.body.classList.add('replay-open');
    const stage = this.root.parentElement;
    // The panels are the stage's children; the map's own subtree (markers move every frame) is not watched.
    if (stage) this.watcher.observe(stage, { subtree: false, childList: true, attributes: false });
    for (const child of stage?.children ?? []) {
      if (child !== this.root) this.watcher.observe(child, { attributes: true, attributeFilter: ['class', 'hidden', 'style'] });
    }
    this.place();
    this.message = '';
    this.render();
    void this.loadLines();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.pause();
    this.abort?.abort();
    this.state = 'closed';
    this.root.hidden = true;
    document.body.classList.remove('replay-open');
    this.watcher.disconnect();
    clearReplayMap(this.map);
    this.hooks.setLiveVisible(true);
    this.render();
    this.publish([]);
  }

  private schedulePlace(): void {
    if (this.placeFrame || this.state === 'closed') return;
    this.placeFrame = requestAnimationFrame(() => {
      this.placeFrame = 0;
      this.place();
    });
  }

  /** Between the panels that reach down to the bar's height, centred, at most its CSS width. */
  private place(): void {
    const stage = this.root.parentElement;
    if (!stage || this.root.hidden) return;
    const box = stage.getBoundingClientRect();
    const gap = 12;
    let left = box.left + gap;
    let right = box.right - gap;
    const top = this.root.getBoundingClientRect().top;
    for (const panel of stage.querySelectorAll<HTMLElement>('.panel')) {
      if (panel === this.root || panel.hidden) continue;
      const r = panel.getBoundingClientRect();
      if (!r.width || !r.height || r.bottom < top) continue; // absent, or ends above the bar
      if (r.left + r.width / 2 < box.left + box.width / 2) left = Math.max(left, r.right + gap);
      else right = Math.min(right, r.left - gap);
    }
    const free = right - left;
    const style = this.root.style;
    if (free < 360) {
      // Too narrow between them: use the stage's width and lie over the panels.
      style.removeProperty('left');
      style.removeProperty('width');
      style.removeProperty('transform');
      return;
    }
    const max = parseFloat(getComputedStyle(document.documentElement).fontSize) * 52;
    const width = Math.min(free, max);
    style.width = `${width}px`;
    style.left = `${left - box.left + (free - width) / 2}px`;
    style.transform = 'none';
    style.minWidth = '0';
  }

  private async loadLines(): Promise<void> {
    if (this.lines) return;
    try {
      const body = await getJSON<{ lines?: LineSummary[] }>('/api/lines');
      this.lines = (body.lines ?? []).filter((l) => typeof l.id === 'number');
      this.lines.sort((a, b) => a.code.localeCompare(b.code, 'zh-CN', { numeric: true }));
      this.linesUnavailable = false;
    } catch (err) {
      this.linesUnavailable = true;
      this.message = isStatus(err, 404) ? t('linesUnavailable') : `${t('linesUnavailable')}: ${describeError(err)}`;
    }
    this.render();
  }

  private async load(): Promise<void> {
    const lineId = Number(this.lineSelect.value);
    const from = new Date(this.fromInput.value).getTime();
    const to = new Date(this.toInput.value).getTime();
    if (!Number.isFinite(lineId) || !this.lineSelect.value) return;
    if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from || to - from > MAX_WINDOW_MS) {
      this.message = t('replayBadWindow');
      this.render();
      return;
    }
    this.pause();
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    this.state = 'loading';
    this.message = t('replayLoading');
    this.render();
    const query = new URLSearchParams({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      zoom: String(Math.round(this.map.getZoom())),
    });
    let payload: ReplayPayload;
    try {
      payload = await getJSON<ReplayPayload>(`/api/lines/${lineId}/replay?${query}`, { signal: abort.signal });
    } catch (err) {
      if (abort.signal.aborted) return;
      this.state = 'idle';
      this.message = isStatus(err, 404) ? t('replayUnavailable') : `${t('replayFailed')}: ${describeError(err)}`;
      this.render();
      return;
    }
    if (this.state !== 'loading') return; // closed meanwhile
    this.show(payload, lineId, from, to);
  }

  private show(payload: ReplayPayload, lineId: number, from: number, to: number): void {
    const known = this.lines?.find((l) => l.id === lineId);
    this.lineColor = payload.line?.color || known?.color || BUS_COLOR;
    this.lineName = payload.line?.code ?? known?.code ?? String(lineId);
    this.vehicles = cleanVehicles(payload.vehicles);
    this.alarms = Array.isArray(payload.alarms) ? payload.alarms : [];
    const start = Date.parse(payload.from ?? '') || from;
    const end = Date.parse(payload.to ?? '') || to;
    const line = lineFeatures(payload.geometry);
    this.alarmKey = '';
    drawReplayStatic(this.map, line, stopFeatures(payload.stops), this.lineColor);
    this.hooks.setLiveVisible(false);
    const bounds = replayBounds(line, this.vehicles);
    if (bounds) {
      this.map.fitBounds([[bounds[0], bounds[1]], [bounds[2], bounds[3]]], { padding: 80, maxZoom: 16, duration: 600 });
    }
    this.state = 'ready';
    const lang = getLang();
    this.message = this.vehicles.length
      ? `${this.vehicles.length} ${t('replayVehicles', lang)} · ${this.alarms.length} ${t('replayAlarms', lang)}`
      : t('replayEmpty', lang);
    // Start where there is something to see, and mark on the slider where data and alarms are.
    this.marks = replayMarks(this.vehicles, this.alarms);
    this.player.setWindow(start, end, this.marks);
    this.seek(firstMark(this.marks, start, end));
    this.render();
  }

  play(): void {
    if (this.state !== 'ready' || !this.vehicles.length) return;
    this.state = 'playing';
    this.player.play();
    this.render();
  }

  pause(): void {
    this.player.pause();
  }

  /** Moves the replay to time `t` (epoch ms) and draws it. */
  seek(t: number): void {
    if (this.state !== 'ready' && this.state !== 'playing') return;
    this.player.seek(t);
  }

  private draw(time: number): void {
    const buses = busesAt(this.vehicles, time);
    setReplayBuses(this.map, buses);
    const alarms = replayAlarmFeatures(this.alarms, time);
    const key = `${getLang()}|${alarms.features.map((f) => (f.properties?.active ? 1 : 0)).join('')}`;
    if (key !== this.alarmKey) {
      // Only when an alarm starts or ends at this time: not on every frame of the playback.
      this.alarmKey = key;
      setReplayAlarms(this.map, alarms);
    }
    this.publish(buses);
  }

  private publish(buses: BusAt[] = window.__replay?.buses ?? []): void {
    const { time, from, to } = this.player;
    window.__replay = { state: this.state, time, from, to, buses, alarms: this.alarms.length, line: this.lineName, marks: this.marks };
  }

  private render(): void {
    const lang = getLang();
    this.toggleButton.textContent = t('replay', lang);
    this.toggleButton.title = t('replayTitle', lang);
    this.toggleButton.setAttribute('aria-pressed', String(this.state !== 'closed'));
    this.title.replaceChildren(el('span', 'name-main', t('replay', lang)), el('span', 'name-sub', t('replay', otherLang(lang))));
    for (const [key, node] of Object.entries(this.labels)) {
      node.textContent = t(key === 'line' ? 'replayLine' : key === 'from' ? 'replayFrom' : 'replayTo', lang);
    }
    this.renderLineOptions();
    this.loadButton.textContent = t('replayLoad', lang);
    this.loadButton.disabled = this.state === 'loading' || !this.lines?.length;
    this.closeButton.title = t('replayClose', lang);
    this.closeButton.setAttribute('aria-label', t('replayClose', lang));
    this.status.textContent = this.message;
    this.status.hidden = !this.message;
    this.root.dataset.state = this.state;
    this.publish();
    const loaded = this.state === 'ready' || this.state === 'playing';
    this.player.render(loaded, this.vehicles.length > 0, {
      play: t('replayPlay', lang), pause: t('replayPause', lang), speed: t('replaySpeed', lang),
    });
  }

  private renderLineOptions(): void {
    const lines = this.lines;
    const selected = this.lineSelect.value;
    if (!lines) {
      this.lineSelect.replaceChildren(el('option', '', this.linesUnavailable ? '—' : t('loading')));
      this.lineSelect.disabled = true;
      return;
    }
    const key = lines.map((l) => l.id).join();
    if (this.lineSelect.dataset.key !== key || this.lineSelect.dataset.lang !== getLang()) {
      this.lineSelect.replaceChildren(
        ...lines.map((l) => {
          const option = el('option', '', l.name && l.name !== l.code ? `${l.code} · ${l.name}` : l.code);
          option.value = String(l.id);
          return option;
        }),
      );
      this.lineSelect.dataset.key = key;
      this.lineSelect.dataset.lang = getLang();
      if (lines.some((l) => String(l.id) === selected)) this.lineSelect.value = selected;
    }
    this.lineSelect.disabled = !lines.length;
  }
}
