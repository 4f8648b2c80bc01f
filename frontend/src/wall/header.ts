/**
 * The wall's header: title and 示意 label, the date, weekday and time from the SERVER's clock
 * (`GET /api/wall/header` `now`: the offset to the local clock is kept and re-measured on every
 * `wall.header` event and every 10 minutes), the weather (nothing when the server has none:
 * never a guess) with the warnings as coloured chips (one per kind and level: the townships it
 * covers in its title and a count), the people on duty, and the 中/EN toggle.
 */

import { getJSON } from '../api';
import { el } from '../dom';
import { getLang, onLangChange, setLang } from '../i18n';
import type { LiveConnection } from '../live';
import { WallPanel } from './panel';
import { w } from './text';

export const WALL_HEADER_CHANNEL = 'wall.header';
const RESYNC_MS = 10 * 60_000;
const ZONE = 'Asia/Shanghai';

export interface Weather {
  township_code: string;
  township: string;
  observed_at: string;
  weather: string;
  temperature: number | null;
  humidity: number | null;
  wind_direction: string | null;
  wind_level: number | null;
  aqi: number | null;
  source: string;
  synthetic: boolean;
  stale: boolean;
}

export interface Warning {
  warning_id: string;
  kind: string;
  level: string;
  township_code: string | null;
  township: string | null;
  issued_at: string;
  expires_at: string | null;
  text: string;
}

export interface Duty {
  post: string;
  name: string;
  unit: string | null;
  phone: string | null;
  starts_at: string;
  ends_at: string;
}

export interface HeaderData {
  now: string;
  timezone: string;
  weather: Weather | null;
  warnings: Warning[];
  duty: Duty[];
  synthetic: boolean;
}

const LEVEL_CLASS: Record<string, string> = { 蓝色: 'blue', 黄色: 'yellow', 橙色: 'orange', 红色: 'red' };
const LEVEL_EN: Record<string, string> = { 蓝色: 'blue', 黄色: 'yellow', 橙色: 'orange', 红色: 'red' };
// The kinds of GB/T 27962 warning signals; a kind not listed shows as the bureau wrote it.
const KIND_EN: Record<string, string> = { 台风: 'typhoon', 暴雨: 'rainstorm', 暴雪: 'snowstorm', 寒潮: 'cold wave',
  大风: 'gale', 沙尘暴: 'sandstorm', 高温: 'heat', 干旱: 'drought', 雷电: 'lightning', 冰雹: 'hail', 霜冻: 'frost',
  大雾: 'fog', 霾: 'haze', 道路结冰: 'road icing', 雷雨大风: 'thunderstorm gale' };

/** Warnings of one kind and level (the bureau issues one per township): one chip. */
export interface WarningGroup {
  kind: string;
  level: string;
  townships: string[];
  warnings: Warning[];
}

/** The warnings grouped by kind and level, in the order each group first appears. */
export function groupWarnings(warnings: readonly Warning[]): WarningGroup[] {
  const groups = new Map<string, WarningGroup>();
  for (const warning of warnings) {
    const key = `${warning.kind}\u0000${warning.level}`;
    const group = groups.get(key) ?? { kind: warning.kind, level: warning.level, townships: [], warnings: [] };
    group.warnings.push(warning);
    const where = warning.township ?? warning.township_code;
    if (where && !group.townships.includes(where)) group.townships.push(where);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** The server's clock: local time plus the offset measured at the last sync. */
export class ServerClock {
  offsetMs = 0;
  synced = false;

  /** `serverIso` was read by a request sent at `sentAt` and answered at `receivedAt` (local ms). */
  sync(serverIso: string, sentAt = Date.now(), receivedAt = sentAt): void {
    const server = Date.parse(serverIso);
    if (!Number.isFinite(server)) return;
    this.offsetMs = server - (sentAt + receivedAt) / 2;
    this.synced = true;
  }

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

function part(date: Date, options: Intl.DateTimeFormatOptions, lang = getLang()): string {
  return new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: ZONE, ...options }).format(date);
}

export class WallHeader {
  readonly clock = new ServerClock();
  readonly panel: WallPanel;
  data: HeaderData | null = null;
  private readonly time: HTMLElement;
  private readonly date: HTMLElement;
  private readonly weather: HTMLElement;
  private readonly warnings: HTMLElement;
  private readonly duty: HTMLElement;

  constructor(private readonly root: HTMLElement, readonly tools: HTMLElement) {
    this.panel = new WallPanel('header', 'title');
    const brand = el('div', 'wall-brand');
    const title = el('h1', 'wall-title');
    const demo = el('span', 'wall-demo', w('demo'));
    // The badge sits beside the title in its row, never over it.
    const titleRow = el('div', 'wall-title-row');
    titleRow.append(title, demo);
    brand.append(titleRow, el('div', 'wall-subtitle'));
    const lang = el('button', 'lang-toggle wall-lang');
    lang.type = 'button';
    lang.dataset.testid = 'wall-lang';
    lang.addEventListener('click', () => setLang(getLang() === 'zh' ? 'en' : 'zh'));
    tools.prepend(lang);
    const clock = el('div', 'wall-clock');
    this.time = el('div', 'wall-time');
    this.time.dataset.testid = 'wall-time';
    this.date = el('div', 'wall-date');
    clock.append(this.time, this.date);
    this.weather = el('div', 'wall-weather');
    this.weather.dataset.testid = 'wall-weather';
    this.warnings = el('div', 'wall-warnings');
    this.warnings.dataset.testid = 'wall-warnings';
    this.duty = el('div', 'wall-duty');
    this.duty.dataset.testid = 'wall-duty';
    const info = el('div', 'wall-info');
    info.append(this.weather, this.warnings);
    root.append(clock, brand, info, this.duty, tools);
    const texts = (): void => {
      title.textContent = w('title');
      (brand.children[1] as HTMLElement).textContent = w('subtitle');
      demo.textContent = w('demo');
      demo.title = w('demoTitle');
      lang.textContent = w('lang');
      lang.title = w('langTitle');
      this.render();
      this.renderTime();
    };
    texts();
    onLangChange(texts);
    this.tick();
    window.setInterval(() => void this.load(), RESYNC_MS);
  }

  connect(live: LiveConnection): void {
    live.subscribe(WALL_HEADER_CHANNEL, {
      onEvent: (data) => this.apply(data as unknown as HeaderData),
      onResync: () => void this.load(),
    });
    live.onState((state) => this.panel.setDown(state !== 'connected'));
  }

  async load(): Promise<void> {
    const sent = Date.now();
    try {
      const data = await getJSON<HeaderData>('/api/wall/header');
      this.apply(data, sent, Date.now());
    } catch {
      this.panel.setDown(true);
    }
  }

  apply(data: HeaderData, sent = Date.now(), received = sent): void {
    if (!data || typeof data.now !== 'string') return;
    this.clock.sync(data.now, sent, received);
    this.renderTime();
    this.data = data;
    this.panel.fresh();
    this.render();
  }

  private tick(): void {
    const now = this.renderTime();
    window.setTimeout(() => this.tick(), 1000 - (now.getTime() % 1000) + 5);
  }

  /** The clock's text now (also right after a sync: not up to a second of the old offset). */
  private renderTime(): Date {
    const now = this.clock.now();
    this.time.textContent = part(now, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    this.time.dataset.epoch = String(now.getTime());
    this.date.textContent = `${part(now, { year: 'numeric', month: '2-digit', day: '2-digit' })} ${part(now, { weekday: 'long' })}`;
    return now;
  }

  private render(): void {
    const data = this.data;
    this.weather.replaceChildren();
    this.warnings.replaceChildren();
    this.duty.replaceChildren();
    if (!data) return;
    const wx = data.weather;
    if (wx) {
      this.weather.classList.toggle('is-stale', wx.stale);
      const temp = wx.temperature === null ? '' : `${wx.temperature.toFixed(1)}℃`;
      this.weather.append(
        el('span', 'wx-main', `${wx.weather} ${temp}`),
        el('span', 'wx-detail', [
          wx.wind_direction && wx.wind_level !== null
            ? (getLang() === 'zh' ? `${wx.wind_direction}风${wx.wind_level}级` : `wind ${wx.wind_direction} F${wx.wind_level}`) : '',
          wx.humidity !== null ? `${getLang() === 'zh' ? '湿度' : 'RH'} ${wx.humidity}%` : '',
          wx.aqi !== null ? `AQI ${wx.aqi}` : '',
        ].filter(Boolean).join(' · ')),
        el('span', 'wx-source', `${wx.township} · ${wx.source}${wx.synthetic ? ` · ${w('demo')}` : ''}`),
      );
      if (wx.stale) this.weather.append(el('span', 'wall-stale', '数据延迟 / stale'));
    }
    const zh = getLang() === 'zh';
    for (const group of groupWarnings(data.warnings ?? [])) {
      const name = zh ? `${group.kind}${group.level}预警` : `${LEVEL_EN[group.level] ?? group.level} ${KIND_EN[group.kind] ?? group.kind} warning`;
      const chip = el('span', `wx-warning level-${LEVEL_CLASS[group.level] ?? 'other'}`, name);
      const n = group.townships.length;
      if (n > 1) chip.append(el('span', 'wx-warning-count', `×${n}`));
      chip.title = [group.townships.join('、'), ...group.warnings.map((x) => x.text)].filter(Boolean).join('\n');
      chip.dataset.testid = 'wall-warning';
      chip.dataset.townships = String(n);
      this.warnings.append(chip);
    }
    if (data.duty?.length) this.duty.append(el('span', 'duty-label', w('duty')));
    for (const person of data.duty ?? []) {
      const item = el('span', 'duty-item');
      item.append(el('span', 'duty-post', person.post), el('span', 'duty-name', person.name));
      if (person.phone) item.append(el('span', 'duty-phone', person.phone));
      this.duty.append(item);
    }
    void this.root;
  }
}
