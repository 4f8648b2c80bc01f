/**
 * One segment's panel (opened by a click on the map, an alert or a pilot segment): its speed now
 * against the usual speed at this time of week, level, probe vehicles and length, and a chart of
 * the chosen day's 288 five-minute buckets (`GET /api/traffic/segments/{segment}/history?date=`):
 * the measured speed and the usual speed, drawn with uPlot. Buckets without enough vehicles are
 * gaps, not guesses.
 */

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { getJSON } from '../api';
import { el } from '../dom';
import { getLang, locale, onLangChange, otherLang, pick } from '../i18n';
import { describeError } from '../toast';
import { kmh } from './alertList';
import { tt } from './strings';
import { COUNTY_TZ, LEVEL_COLORS, LEVEL_NAMES, levelOf, localDate, num, type SegmentHistory, type SegmentProps } from './types';

const SPEED_COLOR = '#4fc3f7';
const TYPICAL_COLOR = '#c5cfda';

declare global {
  interface Window {
    /** The segment panel's chart state, for end-to-end tests. */
    __segmentChart?: { segment: number; date: string; buckets: number; speeds: number; typicals: number; drawn: boolean };
  }
}

/** uPlot's columns: x in epoch seconds, speed and typical with null for the gaps. */
export function chartData(history: SegmentHistory): [number[], (number | null)[], (number | null)[]] {
  const xs: number[] = [];
  const speed: (number | null)[] = [];
  const typical: (number | null)[] = [];
  for (const b of history.buckets ?? []) {
    const ms = Date.parse(b.start);
    if (!Number.isFinite(ms)) continue;
    xs.push(ms / 1000);
    speed.push(num(b.speed_kmh));
    typical.push(num(b.typical_kmh));
  }
  return [xs, speed, typical];
}

export class SegmentPanel {
  readonly root = el('aside', 'panel traffic-segment');
  private readonly title = el('h2', 'panel-title');
  private readonly summary = el('div', 'segment-summary');
  private readonly dateInput = el('input', 'replay-time-input segment-date');
  private readonly chartBox = el('div', 'segment-chart');
  private readonly status = el('p', 'panel-note');
  private chart: uPlot | null = null;
  private props: SegmentProps | null = null;
  private history: SegmentHistory | null = null;
  private abort: AbortController | null = null;
  private readonly closeListeners = new Set<() => void>();
  private readonly resize: ResizeObserver;

  constructor(stage: HTMLElement) {
    this.root.dataset.testid = 'segment-panel';
    this.root.hidden = true;
    const header = el('div', 'panel-header');
    const close = el('button', 'panel-collapse', '×');
    close.type = 'button';
    close.dataset.testid = 'segment-close';
    close.addEventListener('click', () => this.close());
    header.append(this.title, close);
    this.dateInput.type = 'date';
    this.dateInput.dataset.testid = 'segment-date';
    this.dateInput.addEventListener('change', () => {
      if (this.props && this.dateInput.value) void this.loadHistory(this.props.segment, this.dateInput.value);
    });
    this.chartBox.dataset.testid = 'segment-chart';
    const chartHead = el('div', 'segment-chart-head');
    chartHead.append(el('span', 'traffic-subhead'), this.dateInput);
    const body = el('div', 'panel-body segment-body');
    body.append(this.summary, chartHead, this.chartBox, this.status);
    this.root.append(header, body);
    stage.append(this.root);
    this.resize = new ResizeObserver(() => this.fitChart());
    this.resize.observe(this.chartBox);
    onLangChange(() => {
      this.render();
      if (this.history) this.drawChart(this.history);
    });
  }

  get segment(): number | null {
    return this.root.hidden ? null : (this.props?.segment ?? null);
  }

  onClose(listener: () => void): void {
    this.closeListeners.add(listener);
  }

  /** Shows `props` (the segment as the map knows it now) and loads its day. */
  show(props: SegmentProps, date = localDate()): void {
    const same = this.props?.segment === props.segment && !this.root.hidden;
    this.props = props;
    this.root.hidden = false;
    document.body.classList.add('segment-open');
    this.render();
    if (!same || this.dateInput.value !== date) {
      this.dateInput.value = date;
      void this.loadHistory(props.segment, date);
    }
  }

  /** The segment's live values changed (a level event): the summary follows. */
  update(props: SegmentProps): void {
    if (this.props?.segment !== props.segment || this.root.hidden) return;
    this.props = props;
    this.render();
  }

  close(): void {
    if (this.root.hidden) return;
    this.abort?.abort();
    this.root.hidden = true;
    document.body.classList.remove('segment-open');
    for (const listener of this.closeListeners) listener();
  }

  private render(): void {
    const p = this.props;
    if (!p) return;
    const lang = getLang();
    const name = p.name ?? tt('unnamedRoad', lang);
    this.title.replaceChildren(
      el('span', 'name-main', p.pilot_code ? `${p.pilot_code} · ${name}` : name),
      el('span', 'name-sub', tt(p.forward ? 'forward' : 'backward', lang)),
    );
    const level = levelOf(p.level);
    const now = el('div', 'segment-now');
    const speed = el('div', 'segment-speed');
    speed.dataset.testid = 'segment-speed';
    speed.append(el('span', 'segment-value', kmh(p.speed_kmh)), el('span', 'segment-unit', 'km/h'), el('span', 'segment-caption', tt('todaySpeed', lang)));
    const usual = el('div', 'segment-speed usual');
    usual.dataset.testid = 'segment-typical';
    usual.append(el('span', 'segment-value', kmh(p.typical_kmh)), el('span', 'segment-unit', 'km/h'), el('span', 'segment-caption', tt('typicalLong', lang)));
    now.append(speed, usual);
    const meta = el('div', 'traffic-alert-meta');
    const chip = el('span', 'level-chip', pick(LEVEL_NAMES[level], lang));
    chip.style.setProperty('--level', LEVEL_COLORS[level]);
    chip.dataset.testid = 'segment-level';
    meta.append(chip);
    if (p.speed_kmh !== null && p.typical_kmh) {
      const ratio = Math.round((p.speed_kmh / p.typical_kmh - 1) * 100);
      const diff = el('span', ratio < -15 ? 'segment-diff slow' : 'segment-diff', `${tt('vsUsual', lang)} ${ratio > 0 ? '+' : ''}${ratio}%`);
      meta.append(diff);
    }
    meta.append(
      el('span', 'traffic-pilot-road', `${tt('vehicles', lang)} ${p.vehicles}`),
      el('span', 'traffic-pilot-road', `${tt('length', lang)} ${Math.round(p.length_m)} m`),
    );
    this.summary.replaceChildren(now, meta);
    const head = this.root.querySelector('.segment-chart-head .traffic-subhead');
    if (head) head.textContent = tt('chartTitle', lang);
    this.dateInput.title = tt('replayDate', lang);
  }

  private async loadHistory(segment: number, date: string): Promise<void> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    this.status.hidden = false;
    this.status.textContent = tt('replayLoading');
    try {
      const history = await getJSON<SegmentHistory>(`/api/traffic/segments/${segment}/history?date=${encodeURIComponent(date)}`, { signal: abort.signal });
      if (abort.signal.aborted) return;
      this.history = history;
      this.status.hidden = true;
      this.drawChart(history, date);
    } catch (err) {
      if (abort.signal.aborted) return;
      this.status.textContent = `${tt('historyFailed')}: ${describeError(err)}`;
      this.chart?.destroy();
      this.chart = null;
      window.__segmentChart = { segment, date, buckets: 0, speeds: 0, typicals: 0, drawn: false };
    }
  }

  private size(): { width: number; height: number } {
    const width = Math.max(200, Math.floor(this.chartBox.clientWidth));
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    return { width, height: Math.round(Math.max(120, Math.min(11 * rem, width * 0.5))) };
  }

  private fitChart(): void {
    if (this.chart && !this.root.hidden) this.chart.setSize(this.size());
  }

  private drawChart(history: SegmentHistory, date = this.dateInput.value): void {
    const data = chartData(history);
    const lang = getLang();
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const font = `${Math.round(0.72 * rem)}px ${getComputedStyle(document.body).fontFamily}`;
    const axis = { stroke: '#8aa4bd', font, grid: { stroke: 'rgba(79,195,247,0.12)', width: 1 }, ticks: { stroke: 'rgba(79,195,247,0.25)', width: 1 } };
    // The county's day, in its own clock, wherever the browser is.
    const hhmm = (_u: uPlot, splits: number[]): string[] =>
      splits.map((s) => new Date(s * 1000).toLocaleTimeString(locale(lang), { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: COUNTY_TZ }));
    const options: uPlot.Options = {
      ...this.size(),
      class: 'segment-uplot',
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), COUNTY_TZ),
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(20, Math.ceil(((max ?? 0) + 5) / 10) * 10)] } },
      axes: [{ ...axis, values: hhmm, space: 3.5 * rem }, { ...axis, size: 2.6 * rem }],
      series: [
        {},
        { label: `${tt('todaySpeed', lang)} / ${tt('todaySpeed', otherLang(lang))}`, stroke: SPEED_COLOR, width: 2, spanGaps: false, points: { show: true, size: 4, fill: SPEED_COLOR } },
        { label: `${tt('usualSpeed', lang)} / ${tt('usualSpeed', otherLang(lang))}`, stroke: TYPICAL_COLOR, width: 1.5, dash: [6, 4], spanGaps: true, points: { show: false } },
      ],
    };
    this.chart?.destroy();
    this.chart = new uPlot(options, data, this.chartBox);
    const count = (values: (number | null)[]): number => values.filter((v) => v !== null).length;
    window.__segmentChart = {
      segment: history.segment ?? this.props?.segment ?? -1,
      date,
      buckets: data[0].length,
      speeds: count(data[1]),
      typicals: count(data[2]),
      drawn: true,
    };
  }
}
