/**
 * What the traffic panel shows besides the map: the open alerts (`GET /api/traffic/alerts`,
 * then `traffic.alerts` events), the traffic index (`GET /api/traffic/index`, refreshed after
 * level updates) and the pilot segments (`GET /api/traffic/pilot`). Acting on an alert POSTs to
 * the server; a refusal (409 on a closed alert: the server names the allowed actions) comes
 * back as the message to show.
 */

import { getJSON, isStatus, postJSON } from '../api';
import { describeError } from '../toast';
import type { LiveConnection } from '../live';
import { ALERTS_CHANNEL, num, type PilotSegment, type TrafficAlert, type TrafficIndex } from './types';

export type AlertAction = 'acknowledge' | 'close';
type Part = 'alerts' | 'index' | 'pilot';

const INDEX_MIN_MS = 5_000; // after a burst of level events, one index reload

function isAlert(value: unknown): value is TrafficAlert {
  const a = value as TrafficAlert | null;
  return !!a && typeof a === 'object' && typeof a.id === 'number' && typeof a.kind === 'string';
}

function time(iso: string | null | undefined): number {
  const ms = Date.parse(iso ?? '');
  return Number.isFinite(ms) ? ms : 0;
}

export class TrafficStore {
  readonly alerts = new Map<number, TrafficAlert>();
  index: TrafficIndex | null = null;
  pilot: PilotSegment[] | null = null;
  /** Per part: true while its last load failed (the panel says so). */
  readonly failed: Record<Part, boolean> = { alerts: false, index: false, pilot: false };
  /** Alerts raised live since the page opened (the panel flashes them). */
  readonly fresh = new Set<number>();
  private readonly listeners = new Set<(part: Part) => void>();
  private readonly raisedListeners = new Set<(alert: TrafficAlert) => void>();
  private indexTimer = 0;
  private lastIndex = 0;

  onChange(listener: (part: Part) => void): void {
    this.listeners.add(listener);
  }

  /** Called for each alert raised live (not for those loaded over REST). */
  onRaised(listener: (alert: TrafficAlert) => void): void {
    this.raisedListeners.add(listener);
  }

  connect(live: LiveConnection): void {
    live.subscribe(ALERTS_CHANNEL, {
      onEvent: (data) => this.applyEvent(data),
      onResync: () => void this.loadAlerts(),
    });
  }

  /** Open alerts, the newest first. */
  list(): TrafficAlert[] {
    return [...this.alerts.values()].sort((a, b) => time(b.started_at) - time(a.started_at) || b.id - a.id);
  }

  async loadAll(): Promise<void> {
    await Promise.all([this.loadAlerts(), this.loadIndex(), this.loadPilot()]);
  }

  async loadAlerts(): Promise<void> {
    try {
      const body = await getJSON<{ alerts?: unknown[] }>('/api/traffic/alerts?status=open');
      this.alerts.clear();
      for (const a of body.alerts ?? []) if (isAlert(a) && a.status !== 'closed') this.alerts.set(a.id, a);
      this.failed.alerts = false;
    } catch (err) {
      if (!isStatus(err, 401)) this.failed.alerts = true;
    }
    this.changed('alerts');
  }

  async loadIndex(): Promise<void> {
    this.lastIndex = Date.now();
    try {
      const body = await getJSON<TrafficIndex>('/api/traffic/index');
      this.index = {
        time: typeof body.time === 'string' ? body.time : null,
        seat: { tpi: num(body.seat?.tpi), level: num(body.seat?.level) ?? 0 },
        townships: Array.isArray(body.townships) ? body.townships.filter((t) => t && typeof t.name === 'string') : [],
      };
      this.failed.index = false;
    } catch (err) {
      if (!isStatus(err, 401)) this.failed.index = true;
    }
    this.changed('index');
  }

  async loadPilot(): Promise<void> {
    try {
      const body = await getJSON<PilotSegment[] | { pilot?: PilotSegment[] }>('/api/traffic/pilot');
      const list = Array.isArray(body) ? body : (body.pilot ?? []);
      this.pilot = list.filter((p) => p && typeof p.code === 'string');
      this.pilot.sort((a, b) => a.code.localeCompare(b.code, 'zh-CN', { numeric: true }));
      this.failed.pilot = false;
    } catch (err) {
      if (!isStatus(err, 401)) this.failed.pilot = true;
    }
    this.changed('pilot');
  }

  /** The index straight from a level event (seat, its level, each township's value); the
   *  townships' levels and the pilot segments follow by a reload. */
  levelsChanged(data: Record<string, unknown>): void {
    const tpi = data.tpi as { seat?: unknown; seat_level?: unknown; townships?: Record<string, unknown> } | undefined;
    if (this.index && tpi && tpi.seat !== undefined) {
      const towns = tpi.townships && typeof tpi.townships === 'object' ? tpi.townships : {};
      this.index = {
        time: typeof data.time === 'string' ? data.time : this.index.time,
        seat: { tpi: num(tpi.seat), level: num(tpi.seat_level) ?? this.index.seat.level },
        townships: this.index.townships.map((t) => (t.code in towns ? { ...t, tpi: num(towns[t.code]) } : t)),
      };
      this.changed('index');
    }
    if (this.indexTimer) return;
    const wait = Math.max(500, this.lastIndex + INDEX_MIN_MS - Date.now());
    this.indexTimer = window.setTimeout(() => {
      this.indexTimer = 0;
      void this.loadIndex();
      void this.loadPilot();
    }, wait);
  }

  applyEvent(data: Record<string, unknown>): void {
    if (!isAlert(data)) return;
    const { action, ...rest } = data as unknown as TrafficAlert & { action?: string };
    const alert = rest as TrafficAlert;
    // The open list is active and acknowledged alerts, as `?status=open` answers.
    if (alert.status === 'closed' || alert.status === 'cleared' || action === 'closed' || action === 'cleared') {
      this.alerts.delete(alert.id);
      this.fresh.delete(alert.id);
    } else {
      const known = this.alerts.get(alert.id);
      // Events may arrive out of order with a REST answer: keep the newer.
      if (known && time(known.updated_at) > time(alert.updated_at)) return;
      this.alerts.set(alert.id, { ...known, ...alert });
      if (action === 'raised' && !known) {
        this.fresh.add(alert.id);
        for (const listener of this.raisedListeners) listener(alert);
      }
    }
    this.changed('alerts');
  }

  /** Acknowledge or close; resolves to a message for the user, or null when done. */
  async act(id: number, action: AlertAction, note: string): Promise<string | null> {
    const body = action === 'close' && note.trim() ? { note: note.trim() } : undefined;
    try {
      const alert = await postJSON<TrafficAlert>(`/api/traffic/alerts/${id}/${action}`, body);
      this.fresh.delete(id);
      if (isAlert(alert)) this.applyEvent({ ...alert, action: action === 'close' ? 'closed' : 'acknowledged' });
      else if (action === 'close') this.applyEvent({ ...(this.alerts.get(id) ?? { id, kind: 'congestion' }), status: 'closed', action: 'closed' });
      return null;
    } catch (err) {
      if (isStatus(err, 409, 404)) void this.loadAlerts(); // someone else was quicker: show the truth
      return describeError(err);
    }
  }

  private changed(part: Part): void {
    for (const listener of this.listeners) listener(part);
  }
}
