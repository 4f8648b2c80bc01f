/**
 * The alarm panel (right side, collapsible): the active vehicle alarms, newest first, coloured
 * by severity, with the kind in the user's language, the vehicle and the time. Clicking an alarm
 * shows it on the map; "确认 / Acknowledge" and "解除 / Clear" take an optional note and POST to
 * the server (a 409 shows the server's `detail`). The list itself lives in AlarmStore.
 */

import { kindName, severityName } from './alarmKinds';
import type { Alarm, AlarmAction, AlarmStore } from './alarmStore';
import { getLang, locale, onLangChange, otherLang, t } from './i18n';
import { toast } from './toast';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = '',
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

function formatTime(iso: string | null): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  const today = new Date().toDateString() === date.toDateString();
  const time = date.toLocaleTimeString(locale(), { hour12: false });
  if (today) return time;
  return `${date.toLocaleDateString(locale(), { month: '2-digit', day: '2-digit' })} ${time}`;
}

function detailsOf(value: unknown): Record<string, unknown> {
  if (typeof value === 'string') {
    try {
      const parsed = JSON.parse(value) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

/** A short line from an alarm's details (speed over the limit, distance off the route, ...). */
export function detailLine(alarm: Alarm): string {
  const d = detailsOf(alarm.details);
  const zh = getLang() === 'zh';
  const n = (v: unknown): string | null => (typeof v === 'number' && Number.isFinite(v) ? String(Math.round(v)) : null);
  const parts: string[] = [];
  const speed = n(d.speed_kmh) ?? n(d.max_speed_kmh);
  const limit = n(d.limit_kmh);
  if (speed) parts.push(`${speed} km/h`);
  if (limit) parts.push(zh ? `限速 ${limit}` : `limit ${limit}`);
  const distance = n(d.distance_m) ?? n(d.max_distance_m);
  if (distance) parts.push(zh ? `偏离 ${distance} 米` : `${distance} m off`);
  if (typeof d.name === 'string' && d.name) parts.push(d.name);
  return parts.join(' · ');
}

export interface AlarmPanelOptions {
  /** Show an alarm on the map. */
  onSelect: (alarm: Alarm) => void;
  /** The label of a vehicle ("1路#1"). */
  labelOf: (vehicleId: string) => string;
  /** Whether the signed-in user may acknowledge and clear. */
  canHandle: () => boolean;
}

export class AlarmPanel {
  private readonly heading: HTMLElement;
  private readonly count: HTMLElement;
  private readonly collapseButton: HTMLButtonElement;
  private readonly body: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly note: HTMLElement;
  /** The alarm whose note form is open, and for which action. */
  private form: { id: number; action: AlarmAction; error: string; busy: boolean; text: string } | null = null;
  private frame = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly store: AlarmStore,
    private readonly options: AlarmPanelOptions,
  ) {
    root.classList.add('panel', 'alarm-panel');
    const header = el('div', 'panel-header');
    this.heading = el('h2', 'panel-title');
    this.count = el('span', 'alarm-count');
    this.count.dataset.testid = 'alarm-count';
    this.collapseButton = el('button', 'panel-collapse');
    this.collapseButton.type = 'button';
    this.collapseButton.dataset.testid = 'alarm-panel-toggle';
    this.collapseButton.addEventListener('click', () => this.setCollapsed(!this.collapsed));
    const titleRow = el('div', 'alarm-title-row');
    titleRow.append(this.heading, this.count);
    header.append(titleRow, this.collapseButton);
    this.body = el('div', 'panel-body alarm-body');
    this.note = el('p', 'panel-note');
    this.list = el('ul', 'alarm-list');
    this.list.dataset.testid = 'alarm-list';
    this.body.append(this.note, this.list);
    root.append(header, this.body);
    this.setCollapsed(window.innerWidth < 800);
    store.onChange(() => this.schedule());
    onLangChange(() => this.render());
    this.render();
    // Times shown as "today" roll over at midnight; a cheap re-render each minute keeps them right.
    window.setInterval(() => this.schedule(), 60_000);
  }

  get collapsed(): boolean {
    return this.root.classList.contains('collapsed');
  }

  /** Renders again (vehicle labels or the user's rights changed). */
  refresh(): void {
    this.schedule();
  }

  setCollapsed(collapsed: boolean): void {
    this.root.classList.toggle('collapsed', collapsed);
    document.body.classList.toggle('alarms-open', !collapsed);
    this.renderChrome();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private renderChrome(): void {
    this.heading.replaceChildren(el('span', 'name-main', t('alarms')), el('span', 'name-sub', t('alarms', otherLang())));
    const label = t(this.collapsed ? 'expandAlarms' : 'collapseAlarms');
    this.collapseButton.title = label;
    this.collapseButton.setAttribute('aria-label', label);
    this.collapseButton.setAttribute('aria-expanded', String(!this.collapsed));
    this.collapseButton.textContent = this.collapsed ? '⚠' : '›';
  }

  private render(): void {
    this.renderChrome();
    const alarms = this.store.list();
    const critical = alarms.filter((a) => a.severity === 'critical').length;
    this.count.textContent = String(alarms.length);
    this.count.dataset.level = critical ? 'critical' : alarms.length ? 'warning' : 'none';
    this.root.dataset.alarms = String(alarms.length);

    let note = '';
    if (this.store.available === false) note = t('alarmsUnavailable');
    else if (this.store.available === null && !this.store.failed) note = t('loading');
    else if (this.store.failed && !alarms.length) note = t('alarmsFailed');
    else if (!alarms.length) note = t('alarmsEmpty');
    this.note.textContent = note;
    this.note.hidden = !note;

    // Keep an open note form's text and focus across re-renders.
    const input = this.list.querySelector<HTMLInputElement>('.alarm-note-input');
    const hadFocus = !!input && document.activeElement === input;
    if (this.form && input) this.form.text = input.value;
    if (this.form && !this.store.active.has(this.form.id)) this.form = null;

    this.list.replaceChildren(...alarms.map((alarm) => this.renderItem(alarm)));
    if (hadFocus) this.list.querySelector<HTMLInputElement>('.alarm-note-input')?.focus();
  }

  private renderItem(alarm: Alarm): HTMLElement {
    const lang = getLang();
    const item = el('li', `alarm-item sev-${alarm.severity}`);
    item.dataset.testid = 'alarm-item';
    item.dataset.alarmId = String(alarm.id);
    item.dataset.kind = alarm.kind;
    item.dataset.vehicleId = alarm.vehicle_id;
    item.dataset.acknowledged = String(!!alarm.acknowledged_at);
    item.title = t('flyTo');
    item.tabIndex = 0;
    item.addEventListener('click', (e) => {
      if ((e.target as HTMLElement).closest('button, input, form')) return;
      this.options.onSelect(alarm);
    });
    item.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target === item) this.options.onSelect(alarm);
    });

    const top = el('div', 'alarm-top');
    const sev = el('span', 'alarm-sev', severityName(alarm.severity, lang));
    const kind = el('span', 'alarm-kind', kindName(alarm.kind, lang));
    kind.title = `${kindName(alarm.kind, otherLang(lang))} (${alarm.kind})`;
    const time = el('time', 'alarm-time', formatTime(alarm.started_at ?? alarm.raised_at));
    if (alarm.started_at) time.dateTime = alarm.started_at;
    top.append(sev, kind, time);

    const meta = el('div', 'alarm-meta');
    meta.append(el('span', 'alarm-vehicle', this.options.labelOf(alarm.vehicle_id)));
    const detail = detailLine(alarm);
    if (detail) meta.append(el('span', 'alarm-detail', detail));
    item.append(top, meta);

    if (alarm.acknowledged_at) {
      const by = alarm.acknowledged_by ? ` · ${alarm.acknowledged_by}` : '';
      const ack = el('div', 'alarm-ack', `✓ ${t('acknowledgedBy', lang)}${by} ${formatTime(alarm.acknowledged_at)}`);
      ack.dataset.testid = 'alarm-acknowledged';
      if (alarm.note) ack.title = alarm.note;
      item.append(ack);
    }

    if (this.options.canHandle()) item.append(this.renderActions(alarm));
    return item;
  }

  private renderActions(alarm: Alarm): HTMLElement {
    const form = this.form?.id === alarm.id ? this.form : null;
    if (!form) {
      const actions = el('div', 'alarm-actions');
      if (!alarm.acknowledged_at) actions.append(this.actionButton(alarm, 'ack'));
      actions.append(this.actionButton(alarm, 'clear'));
      return actions;
    }
    const box = el('form', 'alarm-form');
    box.dataset.testid = 'alarm-form';
    box.dataset.action = form.action;
    const input = el('input', 'alarm-note-input');
    input.type = 'text';
    input.maxLength = 500;
    input.placeholder = t('notePlaceholder');
    input.value = form.text;
    input.dataset.testid = 'alarm-note';
    input.disabled = form.busy;
    const submit = el('button', `alarm-btn alarm-btn-${form.action} primary`, t(form.action === 'ack' ? 'ack' : 'clearAlarm'));
    submit.type = 'submit';
    submit.dataset.testid = 'alarm-submit';
    submit.disabled = form.busy;
    const cancel = el('button', 'alarm-btn', t('cancel'));
    cancel.type = 'button';
    cancel.addEventListener('click', () => {
      this.form = null;
      this.render();
    });
    const row = el('div', 'alarm-actions');
    row.append(submit, cancel);
    box.append(input, row);
    if (form.error) {
      const error = el('div', 'alarm-error', form.error);
      error.dataset.testid = 'alarm-error';
      error.setAttribute('role', 'alert');
      box.append(error);
    }
    box.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit(alarm.id, form.action, input.value);
    });
    requestAnimationFrame(() => {
      if (!form.busy && input.isConnected && document.activeElement !== input) input.focus();
    });
    return box;
  }

  private actionButton(alarm: Alarm, action: AlarmAction): HTMLButtonElement {
    const button = el('button', `alarm-btn alarm-btn-${action}`, t(action === 'ack' ? 'ack' : 'clearAlarm'));
    button.type = 'button';
    button.dataset.testid = action === 'ack' ? 'alarm-ack' : 'alarm-clear';
    button.addEventListener('click', () => {
      this.form = { id: alarm.id, action, error: '', busy: false, text: '' };
      this.render();
    });
    return button;
  }

  private async submit(id: number, action: AlarmAction, note: string): Promise<void> {
    if (!this.form || this.form.busy) return;
    this.form = { ...this.form, busy: true, error: '', text: note };
    this.render();
    const error = await this.store.act(id, action, note);
    if (error === null) {
      if (this.form?.id === id) this.form = null;
    } else if (!this.store.active.has(id)) {
      // gone meanwhile (cleared by someone else): say what the server said
      this.form = null;
      toast(t(action === 'ack' ? 'ackFailed' : 'clearFailed'), error);
    } else if (this.form?.id === id) {
      this.form = { ...this.form, busy: false, error: `${t(action === 'ack' ? 'ackFailed' : 'clearFailed')}: ${error}` };
    }
    this.render();
  }
}
