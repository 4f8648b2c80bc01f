/**
 * Click a live bus: a popup that follows it with its line, plate, speed, status, direction, next
 * stop and ETA (`GET /api/vehicles/{id}`, refreshed while open) and its active alarms. Without
 * that endpoint the popup shows what the live feed knows and says the details are unavailable.
 */

import maplibregl, { type Map as MapLibreMap, type MapMouseEvent } from 'maplibre-gl';
import { getJSON, isStatus } from './api';
import { kindName } from './alarmKinds';
import type { BusLayer, BusProps, VehicleRecord } from './buses';
import { STATUS_COLORS } from './buses';
import { getLang, locale, onLangChange, t, type StringKey } from './i18n';
import { describeError } from './toast';

/** `GET /api/vehicles/{id}`. */
export interface VehicleDetail extends VehicleRecord {
  line?: { id: number; code: string; name: string; color: string | null } | null;
  progress_m?: number | null;
  direction?: 'outbound' | 'inbound' | string | null;
  next_stop?: { code: string; name: string; distance_m: number | null; eta_s: number | null } | null;
}

const REFRESH_MS = 5_000;
const HEX_COLOR = /^#[0-9a-f]{6}$/i;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** "35 秒前" / "35 s ago", "4 分钟前" / "4 min ago". */
export function ago(iso: string, lang = getLang()): string {
  const ms = Date.now() - Date.parse(iso);
  if (!Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return lang === 'zh' ? `${s} 秒前` : `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return lang === 'zh' ? `${m} 分钟前` : `${m} min ago`;
  return new Date(iso).toLocaleString(locale(lang), { hour12: false });
}

/** "3 分钟" / "3 min"; under a minute "即将到站" / "arriving". */
export function duration(seconds: number, lang = getLang()): string {
  if (seconds < 45) return lang === 'zh' ? '即将到站' : 'arriving';
  const m = Math.round(seconds / 60);
  return lang === 'zh' ? `约 ${m} 分钟` : `about ${m} min`;
}

export function distance(metres: number, lang = getLang()): string {
  if (metres >= 1000) return `${(metres / 1000).toFixed(1)} ${lang === 'zh' ? '公里' : 'km'}`;
  return `${Math.round(metres)} ${lang === 'zh' ? '米' : 'm'}`;
}

const COMPASS_ZH = ['北', '东北', '东', '东南', '南', '西南', '西', '西北'];
const COMPASS_EN = ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'];

export function compass(deg: number, lang = getLang()): string {
  const i = Math.round((((deg % 360) + 360) % 360) / 45) % 8;
  return `${(lang === 'zh' ? COMPASS_ZH : COMPASS_EN)[i]} ${Math.round(deg)}°`;
}

const STATUS_KEYS: Record<string, StringKey> = {
  normal: 'busStatusNormal',
  alarm: 'busStatusAlarm',
  offline: 'busStatusOffline',
};

export class BusPopup {
  private readonly popup: maplibregl.Popup;
  private vehicleId: string | null = null;
  private detail: VehicleDetail | null = null;
  private detailState: 'loading' | 'ok' | 'unavailable' | 'failed' = 'loading';
  private detailError = '';
  private timer = 0;
  private frame = 0;

  constructor(
    private readonly map: MapLibreMap,
    private readonly buses: BusLayer,
  ) {
    this.popup = new maplibregl.Popup({
      closeButton: true,
      closeOnClick: false,
      maxWidth: 'none',
      className: 'feature-popup bus-popup',
      focusAfterOpen: false,
      offset: 14,
    });
    this.popup.on('close', () => {
      this.vehicleId = null;
      window.clearInterval(this.timer);
    });
    map.on('click', (e) => this.onClick(e));
    buses.onChange((bus) => {
      if (bus.vehicle_id === this.vehicleId) this.schedule();
    });
    onLangChange(() => this.vehicleId && this.render());
  }

  /** True when a click at this point belongs to a bus (the feature popup then stays away). */
  claims(point: { x: number; y: number }): boolean {
    return this.buses.featuresAt(point).length > 0;
  }

  get openVehicle(): string | null {
    return this.vehicleId;
  }

  open(vehicleId: string): void {
    const bus = this.buses.vehicles.get(vehicleId);
    if (!bus) return;
    if (this.vehicleId !== vehicleId) {
      this.vehicleId = vehicleId;
      this.detail = null;
      this.detailState = 'loading';
    }
    this.popup.setLngLat([bus.lon, bus.lat]);
    this.render();
    if (!this.popup.isOpen()) this.popup.addTo(this.map);
    void this.fetchDetail();
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => void this.fetchDetail(), REFRESH_MS);
  }

  close(): void {
    this.popup.remove();
  }

  private onClick(e: MapMouseEvent): void {
    const hit = this.buses.featuresAt(e.point)[0];
    const id = hit?.properties?.vehicle_id;
    if (typeof id === 'string') this.open(id);
  }

  private async fetchDetail(): Promise<void> {
    const id = this.vehicleId;
    if (!id || this.buses.isAvailable === false) {
      this.detailState = 'unavailable';
      this.schedule();
      return;
    }
    try {
      const detail = await getJSON<VehicleDetail>(`/api/vehicles/${encodeURIComponent(id)}`);
      if (id !== this.vehicleId) return;
      this.detail = detail;
      this.detailState = 'ok';
      this.buses.learn(detail); // label, plate and line for the map and the alarm list too
    } catch (err) {
      if (id !== this.vehicleId) return;
      this.detailState = isStatus(err, 404) ? 'unavailable' : 'failed';
      this.detailError = describeError(err);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const id = this.vehicleId;
    const bus = id ? this.buses.vehicles.get(id) : undefined;
    if (!id || !bus) return;
    this.popup.setLngLat([bus.lon, bus.lat]);
    this.popup.setDOMContent(this.content(bus));
  }

  private content(bus: BusProps): HTMLElement {
    const lang = getLang();
    const d = this.detail;
    const root = el('div', 'popup-body');
    root.dataset.testid = 'bus-popup';
    root.dataset.vehicleId = bus.vehicle_id;
    root.dataset.status = bus.status;

    const title = el('h3', 'popup-title bus-title');
    const dot = el('span', 'bus-status-dot');
    dot.style.background = STATUS_COLORS[bus.status];
    const label = d?.label || bus.label;
    title.append(dot, label);
    root.append(title);
    // The terminal's id under a readable label ("1路#3"), not twice.
    if (label !== bus.vehicle_id) root.append(el('div', 'popup-dept', bus.vehicle_id));

    const rows: Array<[StringKey, string | Node]> = [];
    const line = d?.line;
    if (line) {
      const value = el('span', '');
      if (line.color && HEX_COLOR.test(line.color)) {
        const chip = el('span', 'color-chip');
        chip.style.background = line.color;
        value.append(chip);
      }
      value.append(line.name && line.name !== line.code ? `${line.code} · ${line.name}` : line.code);
      rows.push(['busLine', value]);
    } else if (bus.line_code) {
      rows.push(['busLine', bus.line_code]);
    }
    const plate = d?.plate ?? bus.plate;
    if (plate) rows.push(['busPlate', plate]);
    const speed = bus.speed_kmh;
    const kmh = speed === null ? '—' : `${new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 1 }).format(speed)} km/h`;
    // An offline vehicle's speed is what it last reported, with how long ago; not "now".
    if (bus.status === 'offline') rows.push(['busSpeedLast', bus.time && speed !== null ? `${kmh} · ${ago(bus.time, lang)}` : kmh]);
    else rows.push(['busSpeed', kmh]);
    if (bus.heading_deg !== null) rows.push(['busHeading', compass(bus.heading_deg, lang)]);
    const status = el('span', `bus-status bus-status-${bus.status}`, t(STATUS_KEYS[bus.status] ?? 'busStatusNormal', lang));
    rows.push(['busStatus', status]);
    if (d?.direction === 'outbound' || d?.direction === 'inbound') {
      rows.push(['busDirection', t(d.direction === 'outbound' ? 'busOutbound' : 'busInbound', lang)]);
    }
    if (d && 'next_stop' in d) {
      const next = d.next_stop;
      if (next) {
        const where = next.distance_m !== null && next.distance_m !== undefined ? ` (${distance(next.distance_m, lang)})` : '';
        rows.push(['busNextStop', `${next.name}${where}`]);
        rows.push(['busEta', next.eta_s !== null && next.eta_s !== undefined ? duration(next.eta_s, lang) : '—']);
      } else {
        rows.push(['busNextStop', '—']);
      }
    }
    if (bus.time) rows.push(['busLastFix', ago(bus.time, lang)]);
    if (bus.alarms.length) {
      const list = el('span', 'bus-alarms', bus.alarms.map((k) => kindName(k, lang)).join(lang === 'zh' ? '、' : ', '));
      rows.push(['busAlarms', list]);
    }

    const table = el('dl', 'popup-fields');
    for (const [key, value] of rows) {
      const dt = el('dt', '', t(key, lang));
      const dd = el('dd', '');
      dd.dataset.field = key;
      dd.append(value);
      table.append(dt, dd);
    }
    root.append(table);

    if (this.detailState !== 'ok') {
      const note = el('p', 'popup-empty bus-note');
      note.dataset.testid = 'bus-detail-note';
      if (this.detailState === 'loading') note.textContent = t('loading', lang);
      else if (this.detailState === 'unavailable') note.textContent = t('busDetailsUnavailable', lang);
      else note.textContent = `${t('busDetailsUnavailable', lang)}: ${this.detailError}`;
      root.append(note);
    }
    return root;
  }
}
