/**
 * The wall's header: title and 示意 label, the date, weekday and time from the SERVER's clock
 * (`GET /api/wall/header` `now`: the offset to the local clock is kept and re-measured on every
 * `wall.header` event and every 10 minutes), the weather (nothing when the server has none:
 * never a guess) with the warnings as coloured chips, and the people on duty.
 */

import { getJSON } from '../api';
import { el } from '../dom';
import { getLang, onLangChange } from '../i18n';
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
    demo.title = w('demoTitle');
    brand.append(title, el('div', 'wall-subtitle'), demo);
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
      this.render();
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
    this.data = data;
    this.panel.fresh();
    this.render();
  }

  private tick(): void {
    const now = this.clock.now();
    this.time.textContent = part(now, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    this.time.dataset.epoch = String(now.getTime());
    this.date.textContent = `${part(now, { year: 'numeric', month: '2-digit', day: '2-digit' })} ${part(now, { weekday: 'long' })}`;
    window.setTimeout(() => this.tick(), 1000 - (now.getTime() % 1000) + 5);
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
          wx.wind_direction && wx.wind_level !== null ? `${wx.wind_direction}风${wx.wind_level}级` : '',
          wx.humidity !== null ? `${getLang() === 'zh' ? '湿度' : 'RH'} ${wx.humidity}%` : '',
          wx.aqi !== null ? `AQI ${wx.aqi}` : '',
        ].filter(Boolean).join(' · ')),
        el('span', 'wx-source', `${wx.township} · ${wx.source}${wx.synthetic ? ` · ${w('demo')}` : ''}`),
      );
      if (wx.stale) this.weather.append(el('span', 'wall-stale', '数据延迟 / stale'));
    }
    for (const warning of data.warnings ?? []) {
      const chip = el('span', `wx-warning level-${LEVEL_CLASS[warning.level] ?? 'other'}`, `${warning.kind}${warning.level}预警`);
      chip.title = warning.text;
      chip.dataset.testid = 'wall-warning';
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
