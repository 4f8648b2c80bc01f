/**
 * What the dispatch desk knows: the open queue (`GET /api/incidents`, the server's order:
 * urgent first, then least time left), the header counts (`GET /api/desk/summary`), the selected
 * case with its timeline and allowed actions (`GET /api/incidents/{id}`) and what is near it
 * (`GET /api/incidents/{id}/nearby`).
 *
 * Live: `incidents.changes` events patch the queue at once (state, 督办, time left), then the
 * queue, the counts and the open case are reloaded (debounced) for the fields an event does not
 * carry. Without a live connection (a role without live rights, a dropped socket) the queue is
 * polled instead.
 */

import { getJSON, isStatus, postJSON } from '../api';
import type { LiveConnection } from '../live';
import { describeError } from '../toast';
import { FINAL } from './names';
import type { Change, Department, Incident, IncidentDetail, Nearby, Queue, Summary } from './types';

const OPEN_STATES = ['reported', 'filed', 'dispatched', 'accepted', 'in_progress', 'handled', 'verifying', 'returned', 'parked'];
const QUEUE_LIMIT = 300;
const RELOAD_DEBOUNCE_MS = 600;
const POLL_MS = 30_000;
const FLASH_MS = 4_000;

export type DeskPart = 'queue' | 'detail' | 'nearby' | 'departments';

export interface ActionBody {
  note?: string;
  department_code?: string;
  assignee?: string;
  verifier?: string;
  extension_hours?: number;
}

export class DeskStore {
  queue: Incident[] = [];
  total = 0;
  summary: Summary | null = null;
  /** null until the first answer; false when the server refused (no rights, no such API). */
  available: boolean | null = null;
  failed = '';
  selectedId: number | null = null;
  detail: IncidentDetail | null = null;
  detailFailed = '';
  nearby: Nearby | null = null;
  nearbyFailed = '';
  radius = 500;
  departments: Department[] = [];
  /** Case ids changed by a live event in the last few seconds (highlighted in the queue). */
  readonly flashed = new Map<number, number>();
  /** Whether the user may act (nearby, actions); set from the user's permissions. */
  canAct = false;
  private live: LiveConnection | null = null;
  private readonly listeners = new Set<(part: DeskPart) => void>();
  private readonly changeListeners = new Set<(change: Change) => void>();
  private reloadTimer = 0;
  private pollTimer = 0;
  private loadSeq = 0;
  private detailSeq = 0;
  private nearbySeq = 0;

  onChange(listener: (part: DeskPart) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with every live change (the KPI panel refreshes on them). */
  onCaseChange(listener: (change: Change) => void): void {
    this.changeListeners.add(listener);
  }

  /** Asks the panel to draw the open case again (a form opened, closed or busy). */
  touch(): void {
    this.emit('detail');
  }

  private emit(part: DeskPart): void {
    for (const listener of this.listeners) listener(part);
  }

  connect(live: LiveConnection): void {
    this.live = live;
    live.subscribe('incidents.changes', {
      onEvent: (data) => this.applyChange(data as unknown as Change),
      onResync: () => void this.reload(),
    });
    window.clearInterval(this.pollTimer);
    this.pollTimer = window.setInterval(() => {
      if (this.live?.currentState !== 'connected') void this.reload();
    }, POLL_MS);
  }

  /** Reloads the queue and the counts (and the open case). */
  async reload(): Promise<void> {
    const seq = ++this.loadSeq;
    const params = new URLSearchParams({ limit: String(QUEUE_LIMIT) });
    for (const state of OPEN_STATES) params.append('state', state);
    try {
      const [queue, summary] = await Promise.all([
        getJSON<Queue>(`/api/incidents?${params}`),
        getJSON<Summary>('/api/desk/summary').catch(() => null),
      ]);
      if (seq !== this.loadSeq) return;
      this.queue = queue.incidents;
      this.total = queue.total;
      this.summary = summary;
      this.available = true;
      this.failed = '';
    } catch (err) {
      if (seq !== this.loadSeq) return;
      if (isStatus(err, 403, 404)) this.available = false;
      this.failed = describeError(err);
    }
    this.emit('queue');
    if (this.selectedId !== null) void this.loadDetail();
  }

  private scheduleReload(): void {
    window.clearTimeout(this.reloadTimer);
    this.reloadTimer = window.setTimeout(() => void this.reload(), RELOAD_DEBOUNCE_MS);
  }

  /** A live change: patch the queue now, reload the details shortly. */
  applyChange(change: Change): void {
    if (typeof change?.id !== 'number') return;
    const index = this.queue.findIndex((c) => c.id === change.id);
    const found = this.queue[index];
    if (found) {
      const row = { ...found };
      if (change.state) row.state = change.state;
      if (typeof change.supervised === 'boolean') row.supervised = change.supervised;
      if (typeof change.extension_pending === 'boolean') row.extension_pending = change.extension_pending;
      if (typeof change.overdue === 'boolean') row.overdue = change.overdue;
      if (change.stage_due_at !== undefined) row.stage_due_at = change.stage_due_at;
      if (change.department_code !== undefined) row.department_code = change.department_code;
      if (FINAL.has(row.state)) this.queue.splice(index, 1);
      else this.queue[index] = row;
    }
    this.flashed.set(change.id, Date.now() + FLASH_MS);
    window.setTimeout(() => {
      if ((this.flashed.get(change.id) ?? 0) <= Date.now()) {
        this.flashed.delete(change.id);
        this.emit('queue');
      }
    }, FLASH_MS + 50);
    this.emit('queue');
    for (const listener of this.changeListeners) listener(change);
    this.scheduleReload();
  }

  /** Opens a case (null closes it). */
  select(id: number | null): void {
    if (id === this.selectedId) return;
    this.selectedId = id;
    this.detail = null;
    this.detailFailed = '';
    this.nearby = null;
    this.nearbyFailed = '';
    this.emit('detail');
    this.emit('nearby');
    if (id !== null) {
      void this.loadDetail();
      void this.loadNearby();
    }
  }

  async loadDetail(): Promise<void> {
    const id = this.selectedId;
    if (id === null) return;
    const seq = ++this.detailSeq;
    try {
      const detail = await getJSON<IncidentDetail>(`/api/incidents/${id}`);
      if (seq !== this.detailSeq || id !== this.selectedId) return;
      this.detail = detail;
      this.detailFailed = '';
    } catch (err) {
      if (seq !== this.detailSeq || id !== this.selectedId) return;
      this.detailFailed = describeError(err);
    }
    this.emit('detail');
  }

  setRadius(radius: number): void {
    this.radius = radius;
    void this.loadNearby();
  }

  async loadNearby(): Promise<void> {
    const id = this.selectedId;
    if (id === null || !this.canAct) return;
    const seq = ++this.nearbySeq;
    try {
      const nearby = await getJSON<Nearby>(`/api/incidents/${id}/nearby?radius_m=${this.radius}&limit=8`);
      if (seq !== this.nearbySeq || id !== this.selectedId) return;
      this.nearby = nearby;
      this.nearbyFailed = '';
    } catch (err) {
      if (seq !== this.nearbySeq || id !== this.selectedId) return;
      this.nearbyFailed = describeError(err);
    }
    this.emit('nearby');
  }

  async loadDepartments(): Promise<void> {
    if (this.departments.length) return;
    try {
      const body = await getJSON<{ departments: Department[] }>('/api/departments');
      this.departments = body.departments;
      this.emit('departments');
    } catch {
      // the dispatch form falls back to the case's own department
    }
  }

  /** Moves the open case on; resolves to null, or the server's reason for refusing. */
  async act(action: string, body: ActionBody): Promise<string | null> {
    const id = this.selectedId;
    if (id === null) return 'no case';
    try {
      const detail = await postJSON<IncidentDetail>(`/api/incidents/${id}/actions/${action}`, body);
      if (detail && id === this.selectedId) {
        this.detail = detail;
        this.emit('detail');
      }
      this.scheduleReload();
      if (action === 'dispatch') void this.loadNearby(); // the assignee's open cases changed
      return null;
    } catch (err) {
      void this.loadDetail(); // the case may have moved meanwhile: show what it allows now
      return describeError(err);
    }
  }

  get selectedRow(): Incident | null {
    return this.detail ?? this.queue.find((c) => c.id === this.selectedId) ?? null;
  }
}
