/**
 * The camera alarms the console knows: the open ones (`GET /api/cameras/alarms?state=open`),
 * patched live from `cameras.alarms` (raised, acknowledged, closed, made a case), newest first;
 * the kinds' names (`GET /api/cameras/alarm-kinds`; a server without that route shows the key);
 * acknowledging and making a case (the answer replaces the row).
 */

import { getJSON, isStatus, postJSON } from '../api';
import type { Bilingual, Lang } from '../i18n';
import type { LiveConnection } from '../live';
import { describeError } from '../toast';
import { ALARMS_CHANNEL, type AlarmEvent, type CameraAlarm, type CaseCategory } from './types';

const LIST_LIMIT = 200; // a flood of analytics alarms must not grow the page without bound

/** The kinds' names: `{kinds: [{key, zh, en}]}` (the server's), or `{key: {zh, en}}`. */
export function kindsOf(body: unknown): Record<string, Bilingual> {
  const list = (body as { kinds?: unknown } | null)?.kinds;
  if (Array.isArray(list)) {
    const out: Record<string, Bilingual> = {};
    for (const k of list as { key?: unknown; zh?: unknown; en?: unknown }[]) {
      if (typeof k?.key === 'string' && typeof k.zh === 'string' && typeof k.en === 'string') out[k.key] = { zh: k.zh, en: k.en };
    }
    return out;
  }
  return body && typeof body === 'object' ? (body as Record<string, Bilingual>) : {};
}

/** The list answer, whether the server sends a bare array or an envelope. */
function rowsOf(body: unknown): CameraAlarm[] {
  if (Array.isArray(body)) return body as CameraAlarm[];
  const env = body as { alarms?: unknown; items?: unknown } | null;
  if (Array.isArray(env?.alarms)) return env.alarms as CameraAlarm[];
  if (Array.isArray(env?.items)) return env.items as CameraAlarm[];
  return [];
}

export class CameraAlarmStore {
  readonly alarms = new Map<number, CameraAlarm>();
  kinds: Record<string, Bilingual> = {};
  categories: CaseCategory[] = [];
  failed = '';
  loaded = false;
  private readonly listeners = new Set<() => void>();
  private readonly raisedListeners = new Set<(alarm: CameraAlarm) => void>();
  private seq = 0;

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  onRaised(listener: (alarm: CameraAlarm) => void): void {
    this.raisedListeners.add(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  /** Newest first (the alarm's own time, then its id). */
  get list(): CameraAlarm[] {
    return [...this.alarms.values()].sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || b.id - a.id);
  }

  kindName(kind: string, lang: Lang): string {
    return this.kinds[kind]?.[lang] ?? kind;
  }

  connect(live: LiveConnection): void {
    live.subscribe(ALARMS_CHANNEL, {
      onEvent: (data) => this.apply(data as unknown as AlarmEvent),
      onResync: () => void this.load(),
    });
  }

  async load(): Promise<void> {
    const seq = ++this.seq;
    void this.loadKinds();
    try {
      const body = await getJSON<unknown>('/api/cameras/alarms?state=open');
      if (seq !== this.seq) return;
      this.alarms.clear();
      for (const alarm of rowsOf(body).slice(0, LIST_LIMIT)) this.alarms.set(alarm.id, alarm);
      this.failed = '';
    } catch (err) {
      if (seq !== this.seq) return;
      this.failed = describeError(err);
    }
    this.loaded = true;
    this.emit();
  }

  private async loadKinds(): Promise<void> {
    if (Object.keys(this.kinds).length) return;
    try {
      this.kinds = kindsOf(await getJSON<unknown>('/api/cameras/alarm-kinds'));
      this.emit();
    } catch (err) {
      if (!isStatus(err, 404)) console.warn('camera alarm kinds:', describeError(err));
    }
  }

  async loadCategories(): Promise<void> {
    if (this.categories.length) return;
    const body = await getJSON<{ categories: CaseCategory[] }>('/api/case-categories');
    this.categories = body.categories ?? [];
  }

  apply(event: AlarmEvent): void {
    const alarm = event?.alarm;
    if (!alarm || typeof alarm.id !== 'number') return;
    if (event.action === 'closed' || alarm.state === 'closed') this.alarms.delete(alarm.id);
    else this.alarms.set(alarm.id, alarm);
    while (this.alarms.size > LIST_LIMIT) {
      const oldest = this.list.at(-1);
      if (!oldest) break;
      this.alarms.delete(oldest.id);
    }
    if (event.action === 'raised') for (const listener of this.raisedListeners) listener(alarm);
    this.emit();
  }

  async acknowledge(id: number): Promise<void> {
    const answer = await postJSON<CameraAlarm>(`/api/cameras/alarms/${id}/ack`);
    if (answer) this.alarms.set(answer.id, answer);
    this.emit();
  }

  async toCase(id: number, body: { category_code: string; description?: string; urgency: 'normal' | 'urgent' }): Promise<CameraAlarm | null> {
    // The updated alarm, bare or as `{alarm, incident_id, case_no, created}`.
    const reply = await postJSON<CameraAlarm | { alarm: CameraAlarm }>(`/api/cameras/alarms/${id}/case`, body);
    const answer = reply && 'alarm' in reply ? reply.alarm : reply;
    if (answer) this.alarms.set(answer.id, answer);
    this.emit();
    return answer ?? null;
  }
}
