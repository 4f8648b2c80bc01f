/**
 * A day replay of congestion levels (`GET /api/traffic/replay?date&start&end`): pick a day, and
 * the replay bar's time slider (the same controls and look as the bus replay: play/pause,
 * speeds, the marks of where data is) moves through its five-minute buckets; the overlay draws
 * each bucket's levels (segments without one as unknown) until the replay is closed, when the
 * live levels come back.
 */

import { getJSON } from '../api';
import { el } from '../dom';
import { getLang, locale, onLangChange, otherLang, t } from '../i18n';
import type { ReplayMarks } from '../replayMarks';
import { ReplayPlayer } from '../replayPlayer';
import { describeError } from '../toast';
import type { CongestionLayer } from './congestion';
import { tt } from './strings';
import { COUNTY_TZ, localDate, type ReplayPayload } from './types';

const BUCKET_MS = 5 * 60_000;
const SPEEDS = [60, 300, 900]; // one bucket every 5 s, 1 s, 1/3 s
const DEFAULT_SPEED = 300;

type State = 'closed' | 'idle' | 'loading' | 'ready' | 'playing';

declare global {
  interface Window {
    /** The traffic replay's state, for end-to-end tests. */
    __trafficReplay?: { state: State; time: number; bucket: number; buckets: number; date: string };
  }
}

interface Bucket {
  start: number;
  levels: Record<string, number>;
}

export class TrafficReplay {
  readonly toggleButton = el('button', 'header-button traffic-replay-toggle');
  readonly root = el('section', 'replay-bar traffic-replay');
  /** Whether the overlay is shown (the button is offered only then). */
  private shown = false;
  private state: State = 'closed';
  private buckets: Bucket[] = [];
  private current = -1;
  private message = '';
  private abort: AbortController | null = null;
  private readonly title = el('div', 'replay-title');
  private readonly dateLabel = el('span', 'replay-label');
  private readonly dateInput = el('input', 'replay-time-input');
  private readonly loadButton = el('button', 'replay-btn primary');
  private readonly closeButton = el('button', 'replay-close', '×');
  private readonly status = el('div', 'replay-status');
  private readonly player = new ReplayPlayer({
    testid: 'traffic-replay', speeds: SPEEDS, speed: DEFAULT_SPEED, step: BUCKET_MS,
    onTime: (time) => this.draw(time),
    onToggle: () => (this.state === 'playing' ? this.pause() : this.play()),
    onChange: () => {
      if (this.state === 'playing' && !this.player.playing) this.state = 'ready';
      this.render();
    },
    clock: (time) => (time
      ? new Date(time).toLocaleTimeString(locale(), { hour12: false, hour: '2-digit', minute: '2-digit', timeZone: COUNTY_TZ })
      : '--:--'),
  });

  constructor(stage: HTMLElement, private readonly layer: CongestionLayer) {
    this.root.dataset.testid = 'traffic-replay';
    this.root.hidden = true;
    this.toggleButton.type = 'button';
    this.toggleButton.hidden = true;
    this.toggleButton.dataset.testid = 'traffic-replay-toggle';
    this.toggleButton.addEventListener('click', () => (this.state === 'closed' ? this.open() : this.close()));
    this.dateInput.type = 'date';
    this.dateInput.dataset.testid = 'traffic-replay-date';
    this.loadButton.type = 'button';
    this.loadButton.dataset.testid = 'traffic-replay-load';
    this.loadButton.addEventListener('click', () => void this.load());
    this.closeButton.type = 'button';
    this.closeButton.addEventListener('click', () => this.close());
    const field = el('label', 'replay-field');
    field.append(this.dateLabel, this.dateInput);
    const top = el('div', 'replay-row');
    top.append(this.title, field, this.loadButton);
    this.root.append(top, this.player.row, this.status, this.closeButton);
    stage.append(this.root);
    onLangChange(() => this.render());
    this.render();
  }

  /** The overlay is shown or hidden: the replay is offered only with it. */
  set available(shown: boolean) {
    this.shown = shown;
    this.toggleButton.hidden = !shown;
    if (!shown) this.close();
  }

  open(): void {
    if (this.state !== 'closed' || !this.shown) return;
    this.state = 'idle';
    this.dateInput.value = localDate();
    this.root.hidden = false;
    document.body.classList.add('traffic-replay-open');
    this.message = '';
    this.render();
    void this.load();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.pause();
    this.abort?.abort();
    this.state = 'closed';
    this.root.hidden = true;
    document.body.classList.remove('traffic-replay-open');
    this.layer.setReplayLevels(null);
    this.current = -1;
    this.render();
  }

  private async load(): Promise<void> {
    const date = this.dateInput.value;
    if (!date) return;
    this.pause();
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    this.state = 'loading';
    this.message = tt('replayLoading');
    this.render();
    // The whole day in the county's time zone: its buckets say where it starts and ends.
    const query = new URLSearchParams({ date });
    let payload: ReplayPayload;
    try {
      payload = await getJSON<ReplayPayload>(`/api/traffic/replay?${query}`, { signal: abort.signal });
    } catch (err) {
      if (abort.signal.aborted) return;
      this.state = 'idle';
      this.message = `${tt('replayFailed')}: ${describeError(err)}`;
      this.render();
      return;
    }
    if (this.state !== 'loading') return;
    this.buckets = (Array.isArray(payload.buckets) ? payload.buckets : [])
      .map((b) => ({ start: Date.parse(b?.start ?? ''), levels: b?.levels && typeof b.levels === 'object' ? b.levels : {} }))
      .filter((b) => Number.isFinite(b.start))
      .sort((a, b) => a.start - b.start);
    const from = this.buckets[0]?.start ?? Date.now();
    const to = Math.max(from + BUCKET_MS, this.buckets[this.buckets.length - 1]?.start ?? from);
    this.state = 'ready';
    const withData = this.buckets.filter((b) => Object.keys(b.levels).length);
    this.message = withData.length ? `${withData.length} ${tt('replayBuckets')}` : tt('replayEmpty');
    const marks: ReplayMarks = { data: withData.map((b) => [b.start, b.start + BUCKET_MS] as [number, number]), alarms: [] };
    this.player.setWindow(from, to, marks, to + BUCKET_MS);
    this.current = -1;
    this.seek(withData[0]?.start ?? from);
    this.render();
  }

  play(): void {
    if (this.state !== 'ready' || !this.buckets.length) return;
    this.state = 'playing';
    this.player.play();
    this.render();
  }

  pause(): void {
    this.player.pause();
  }

  /** Moves to time `t` (epoch ms); the overlay changes only when the bucket does. */
  seek(t: number): void {
    if (this.state !== 'ready' && this.state !== 'playing') return;
    this.player.seek(t);
  }

  private draw(time: number): void {
    const { from } = this.player;
    const start = from + Math.floor((time - from) / BUCKET_MS) * BUCKET_MS;
    const index = this.buckets.findIndex((b) => b.start <= start && start < b.start + BUCKET_MS);
    const key = index >= 0 ? index : -2 - Math.round(start / BUCKET_MS); // an empty bucket: all unknown
    if (key !== this.current) {
      this.current = key;
      this.layer.setReplayLevels(index >= 0 ? this.buckets[index]!.levels : {});
    }
    this.publish();
  }

  private publish(): void {
    window.__trafficReplay = {
      state: this.state, time: this.player.time, bucket: Math.max(-1, this.current), buckets: this.buckets.length, date: this.dateInput.value,
    };
  }

  private render(): void {
    const lang = getLang();
    this.toggleButton.textContent = tt('replay', lang);
    this.toggleButton.title = tt('replayTitle', lang);
    this.toggleButton.setAttribute('aria-pressed', String(this.state !== 'closed'));
    this.title.replaceChildren(el('span', 'name-main', tt('replay', lang)), el('span', 'name-sub', tt('replay', otherLang(lang))));
    this.dateLabel.textContent = tt('replayDate', lang);
    this.loadButton.textContent = tt('replayLoad', lang);
    this.loadButton.disabled = this.state === 'loading';
    this.closeButton.title = tt('replayClose', lang);
    this.closeButton.setAttribute('aria-label', tt('replayClose', lang));
    this.status.textContent = this.message;
    this.status.hidden = !this.message;
    this.root.dataset.state = this.state;
    const loaded = this.state === 'ready' || this.state === 'playing';
    this.player.render(loaded, this.buckets.length > 0, {
      play: t('replayPlay', lang), pause: t('replayPause', lang), speed: t('replaySpeed', lang),
    });
    this.publish();
  }
}
