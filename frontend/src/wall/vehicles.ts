/**
 * Moving things on the wall, drawn by deck.gl (one ScatterplotLayer per kind through the one
 * overlay of ../deck): buses and the other vehicles from `GET /api/vehicles` and the hub's
 * `vehicles.positions`, each glided from where it is drawn to its new report over the time
 * between its reports; new cases pulse where they arrive. Frames are drawn only while something
 * moves or pulses (the map still goes idle); `window.__wallFps` is a rolling frames-per-second
 * count of the page's animation frames.
 */

import { ScatterplotLayer } from '@deck.gl/layers';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { getJSON } from '../api';
import { OFFLINE_AFTER_MS, type VehicleRecord } from '../buses';
import { DeckOverlay } from '../deck';
import { POSITIONS_CHANNEL, type LiveConnection } from '../live';
import { reducedMotion } from './panel';

declare global {
  interface Window {
    __wallFps?: number;
  }
}

type RGBA = [number, number, number, number];

export interface Moving {
  id: string;
  label: string;
  lineId: number | null;
  /** The register's class (bus, taxi...): buses are drawn in the bus colour, others apart. */
  vehicleClass: string | null;
  /** Drawn position, and the glide from `from` to `to` over [t0, t1] (performance.now ms). */
  pos: [number, number];
  from: [number, number];
  to: [number, number];
  t0: number;
  t1: number;
  /** Last report (epoch ms). */
  reportedAt: number;
  alarm: boolean;
}

interface Pulse {
  id: number;
  pos: [number, number];
  born: number;
}

const GLIDE_MIN_MS = 300;
const GLIDE_MAX_MS = 5_000;
const PULSE_MS = 6_000;
const RELOAD_NEWCOMERS_MS = 3_000;
const PULSE_MAX_RADIUS_PX = 46;
const COLORS: Record<string, RGBA> = {
  bus: [29, 233, 182, 255],
  other: [255, 213, 79, 230], // taxis and any non-bus vehicle the caller may see
  alarm: [255, 77, 79, 255],
  offline: [125, 139, 153, 200],
};

function isBus(v: Moving): boolean {
  return v.vehicleClass === null || v.vehicleClass === 'bus';
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A rolling frames-per-second count over the last second, of the page's animation frames. */
function startFpsCounter(): void {
  const frames: number[] = [];
  const loop = (now: number): void => {
    frames.push(now);
    while (frames.length && (frames[0] ?? now) < now - 1000) frames.shift();
    window.__wallFps = frames.length;
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}

export class WallVehicles {
  readonly moving = new Map<string, Moving>();
  private readonly pulses: Pulse[] = [];
  private readonly deck: DeckOverlay;
  private readonly listeners = new Set<() => void>();
  private frame = 0;
  private reloadTimer = 0;
  private alarmed: (id: string) => boolean = () => false;
  available: boolean | null = null;

  constructor(private readonly map: MapLibreMap) {
    this.deck = new DeckOverlay(map, { interleaved: false }); // flat map: no depth to share
    startFpsCounter();
  }

  /** Where the alarm list tells which vehicles have an active alarm. */
  setAlarmed(lookup: (id: string) => boolean): void {
    this.alarmed = lookup;
    for (const v of this.moving.values()) v.alarm = lookup(v.id);
    this.draw();
  }

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  connect(live: LiveConnection): void {
    live.subscribe(POSITIONS_CHANNEL, {
      followViewport: true,
      onEvent: (data) => this.report(data),
      onResync: () => void this.reload(),
    });
  }

  async reload(): Promise<void> {
    try {
      const body = await getJSON<{ vehicles?: VehicleRecord[] }>('/api/vehicles');
      this.available = true;
      for (const r of body.vehicles ?? []) {
        const lon = num(r.lon), lat = num(r.lat);
        if (lon === null || lat === null) continue;
        const known = this.moving.get(r.vehicle_id);
        const time = Date.parse(r.time ?? '');
        if (known && (!Number.isFinite(time) || time <= known.reportedAt)) {
          known.label = r.label ?? r.plate ?? known.label;
          known.lineId = r.line_id ?? known.lineId;
          known.vehicleClass = r.vehicle_class ?? known.vehicleClass;
          continue;
        }
        this.place(r.vehicle_id, [lon, lat], Number.isFinite(time) ? time : 0, {
          label: r.label ?? r.plate ?? r.vehicle_id, lineId: r.line_id ?? null, vehicleClass: r.vehicle_class ?? null,
        });
      }
    } catch {
      this.available = false;
    }
    this.changed();
  }

  /** One `vehicles.positions` event. */
  report(data: Record<string, unknown>): void {
    const id = typeof data.vehicle_id === 'string' ? data.vehicle_id : null;
    const lon = num(data.lon), lat = num(data.lat);
    const time = Date.parse(typeof data.time === 'string' ? data.time : '');
    if (!id || lon === null || lat === null || !Number.isFinite(time)) return;
    const known = this.moving.get(id);
    if (known && time < known.reportedAt) return; // late
    this.place(id, [lon, lat], time, {});
    if (!known) this.reloadSoon(); // a newcomer: its label, line and class come from REST
    this.changed();
  }

  /** A new case: a ring pulses at its place for a few seconds. */
  pulse(id: number, lon: number, lat: number): void {
    if (!Number.isFinite(lon) || !Number.isFinite(lat)) return;
    this.pulses.push({ id, pos: [lon, lat], born: performance.now() });
    this.animate();
  }

  /** Buses heard within the offline limit, those of them on a line, those in alarm (the
   * bus operations panel: taxis and other vehicles are drawn, not counted). */
  counts(now = Date.now()): { online: number; onLine: number; alarm: number; total: number } {
    let online = 0, onLine = 0, alarm = 0, total = 0;
    for (const v of this.moving.values()) {
      if (!isBus(v)) continue;
      total += 1;
      if (now - v.reportedAt <= OFFLINE_AFTER_MS) {
        online += 1;
        if (v.lineId !== null) onLine += 1;
      }
      if (v.alarm) alarm += 1;
    }
    return { online, onLine, alarm, total };
  }

  private place(id: string, to: [number, number], reportedAt: number,
                extra: { label?: string; lineId?: number | null; vehicleClass?: string | null }): void {
    const now = performance.now();
    const known = this.moving.get(id);
    if (!known) {
      this.moving.set(id, {
        id, label: extra.label ?? id, lineId: extra.lineId ?? null, vehicleClass: extra.vehicleClass ?? null,
        pos: to, from: to, to, t0: now, t1: now, reportedAt, alarm: this.alarmed(id),
      });
    } else {
      const gap = reportedAt - known.reportedAt;
      const glide = reducedMotion() ? 0 : Math.min(GLIDE_MAX_MS, Math.max(GLIDE_MIN_MS, gap));
      known.from = [...known.pos];
      known.to = to;
      known.t0 = now;
      known.t1 = now + glide;
      known.reportedAt = reportedAt;
      if (extra.label) known.label = extra.label;
      if (extra.lineId !== undefined) known.lineId = extra.lineId;
      if (extra.vehicleClass !== undefined) known.vehicleClass = extra.vehicleClass;
    }
    this.animate();
  }

  private reloadSoon(): void {
    if (this.reloadTimer) return;
    this.reloadTimer = window.setTimeout(() => {
      this.reloadTimer = 0;
      void this.reload();
    }, RELOAD_NEWCOMERS_MS);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private animate(): void {
    if (!this.frame) this.frame = requestAnimationFrame((now) => this.step(now));
  }

  private step(now: number): void {
    this.frame = 0;
    let moving = false;
    for (const v of this.moving.values()) {
      if (now >= v.t1) {
        v.pos = v.to;
        continue;
      }
      const p = (now - v.t0) / (v.t1 - v.t0);
      v.pos = [v.from[0] + (v.to[0] - v.from[0]) * p, v.from[1] + (v.to[1] - v.from[1]) * p];
      moving = true;
    }
    while (this.pulses.length && now - (this.pulses[0]?.born ?? now) > PULSE_MS) this.pulses.shift();
    this.draw(now);
    if (moving || this.pulses.length) this.animate();
  }

  private draw(now = performance.now()): void {
    const vehicles = [...this.moving.values()];
    const wall = Date.now();
    const colorOf = (v: Moving): RGBA => v.alarm ? COLORS.alarm!
      : wall - v.reportedAt > OFFLINE_AFTER_MS ? COLORS.offline!
        : isBus(v) ? COLORS.bus! : COLORS.other!;
    const layers = [
      new ScatterplotLayer<Moving>({
        id: 'wall-vehicles',
        data: vehicles,
        getPosition: (v) => v.pos,
        getFillColor: colorOf,
        getLineColor: [6, 17, 29, 255],
        getRadius: 5,
        radiusUnits: 'pixels',
        radiusScale: Number(document.documentElement.dataset.k ?? 1),
        lineWidthUnits: 'pixels',
        getLineWidth: 1.5,
        stroked: true,
        updateTriggers: { getPosition: now, getFillColor: Math.floor(wall / 1000) },
      }),
      new ScatterplotLayer<Pulse>({
        id: 'wall-case-pulses',
        data: [...this.pulses],
        getPosition: (p) => p.pos,
        getRadius: (p) => 6 + ((now - p.born) % 1500) / 1500 * PULSE_MAX_RADIUS_PX,
        getLineColor: (p) => [255, 145, 0, Math.round(255 * (1 - ((now - p.born) % 1500) / 1500))],
        radiusUnits: 'pixels',
        radiusScale: Number(document.documentElement.dataset.k ?? 1),
        filled: false,
        stroked: true,
        lineWidthUnits: 'pixels',
        getLineWidth: 3,
        updateTriggers: { getRadius: now, getLineColor: now },
      }),
    ];
    this.deck.setGroup('wall', layers);
    void this.map;
  }
}
