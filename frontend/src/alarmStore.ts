/**
 * The active vehicle alarms, as the console knows them: loaded from
 * `GET /api/alarms?status=active` (at start and on resync) and kept current by `vehicles.alarms`
 * events (raised / cleared / instant / acknowledged; the event's `status` decides whether the
 * alarm stays in the list). Acknowledge and clear go through `POST /api/alarms/{id}/ack|clear`.
 * A new critical alarm is announced with a toast.
 */

import { getJSON, isStatus, postJSON } from './api';
import { kindName, severityName } from './alarmKinds';
import { locale, t } from './i18n';
import type { LiveConnection } from './live';
import { describeError, toast } from './toast';

export interface Alarm {
  id: number;
  vehicle_id: string;
  kind: string;
  severity: string;
  status: 'active' | 'cleared' | string;
  started_at: string | null;
  raised_at: string | null;
  cleared_at: string | null;
  cleared_by: string | null;
  lon: number | null;
  lat: number | null;
  details: unknown;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  note: string | null;
}

export type AlarmAction = 'ack' | 'clear';

const LIMIT = 500;

function isAlarm(value: unknown): value is Alarm {
  const a = value as Partial<Alarm> | null;
  return !!a && typeof a.id === 'number' && typeof a.vehicle_id === 'string' && typeof a.kind === 'string';
}

/** When the alarm began, for sorting (newest first). */
export function alarmTime(alarm: Alarm): number {
  const ms = Date.parse(alarm.started_at ?? alarm.raised_at ?? '');
  return Number.isFinite(ms) ? ms : 0;
}

export class AlarmStore {
  readonly active = new Map<number, Alarm>();
  private byVehicle = new Map<string, Alarm[]>();
  private readonly announced = new Set<number>();
  private readonly listeners = new Set<() => void>();
  private loading: Promise<void> | null = null;
  /** null until the first answer; false when this server has no alarm API. */
  available: boolean | null = null;
  failed = false;
  /** Labels for toasts (the bus layer knows them). */
  labelOf: (vehicleId: string) => string = (id) => id;

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  connect(live: LiveConnection): void {
    live.subscribe('vehicles.alarms', {
      onEvent: (data) => this.applyEvent(data),
      onResync: () => void this.load(),
    });
  }

  /** Newest first. */
  list(): Alarm[] {
    return [...this.active.values()].sort((a, b) => alarmTime(b) - alarmTime(a) || b.id - a.id);
  }

  /** The active alarms of one vehicle (null while the list is not available). */
  lookup(vehicleId: string): { kinds: string[]; unacknowledged: boolean } | null {
    if (!this.available) return null;
    const alarms = this.byVehicle.get(vehicleId) ?? [];
    return {
      kinds: [...new Set(alarms.map((a) => a.kind))],
      unacknowledged: alarms.some((a) => !a.acknowledged_at),
    };
  }

  vehicleAlarms(vehicleId: string): Alarm[] {
    return this.byVehicle.get(vehicleId) ?? [];
  }

  load(): Promise<void> {
    if (this.loading) return this.loading;
    this.loading = (async () => {
      try {
        const body = await getJSON<{ alarms?: unknown[] }>(`/api/alarms?status=active&limit=${LIMIT}`);
        this.available = true;
        this.failed = false;
        this.active.clear();
        for (const item of body.alarms ?? []) {
          if (isAlarm(item) && item.status === 'active') {
            this.active.set(item.id, item);
            this.announced.add(item.id); // already there when the console opened: no toast
          }
        }
      } catch (err) {
        if (isStatus(err, 404, 403)) this.available = false;
        else if (!isStatus(err, 401)) {
          this.failed = true;
          toast(t('alarmsFailed'), describeError(err));
        }
      } finally {
        this.loading = null;
        this.changed();
      }
    })();
    return this.loading;
  }

  /** One `vehicles.alarms` event: the alarm after `action`. */
  applyEvent(data: Record<string, unknown>): void {
    if (!isAlarm(data)) return;
    const { action, time: _time, ...rest } = data as Alarm & { action?: string; time?: string };
    const alarm = rest as Alarm;
    if (alarm.status === 'active') this.active.set(alarm.id, alarm);
    else this.active.delete(alarm.id);
    if ((action === 'raised' || action === 'instant') && !this.announced.has(alarm.id)) {
      this.announced.add(alarm.id);
      if (alarm.severity === 'critical') {
        const at = new Date(alarm.started_at ?? alarm.raised_at ?? Date.now());
        const when = Number.isNaN(at.getTime()) ? '' : ` · ${at.toLocaleTimeString(locale(), { hour12: false })}`;
        toast(`⚠ ${kindName(alarm.kind)} — ${this.labelOf(alarm.vehicle_id)}`, `${severityName(alarm.severity)}${when}`, {
          kind: 'error',
          timeout: 20_000,
        });
      }
    }
    if (this.available === null) this.available = true;
    this.changed();
  }

  /** Acknowledge or clear; resolves to an error message for the user, or null when done. */
  async act(id: number, action: AlarmAction, note: string): Promise<string | null> {
    const body = note.trim() ? { note: note.trim() } : undefined;
    try {
      const alarm = await postJSON<Alarm>(`/api/alarms/${id}/${action}`, body);
      if (isAlarm(alarm)) this.applyEvent({ ...alarm, action: action === 'ack' ? 'acknowledged' : 'cleared' });
      return null;
    } catch (err) {
      if (isStatus(err, 409)) await this.load(); // someone else was quicker: show the truth
      return describeError(err);
    }
  }

  private changed(): void {
    const index = new Map<string, Alarm[]>();
    for (const alarm of this.active.values()) {
      const list = index.get(alarm.vehicle_id) ?? [];
      list.push(alarm);
      index.set(alarm.vehicle_id, list);
    }
    this.byVehicle = index;
    for (const listener of this.listeners) listener();
  }
}
