/**
 * The traffic alert items: kind, segment name, since when, level and speed against the usual,
 * who acknowledged; acknowledge and close buttons (close takes an optional note), the server's
 * refusal (409 with the allowed actions) shown under the item; a link to the alert's CAP 1.2.
 * Clicking an item flies the map to its segment.
 */

import { absoluteUrl } from '../api';
import { el } from '../dom';
import { getLang, locale, otherLang, pick } from '../i18n';
import { toast } from '../toast';
import { tt, type TrafficKey } from './strings';
import type { AlertAction, TrafficStore } from './store';
import { LEVEL_COLORS, LEVEL_NAMES, levelOf, type AlertKind, type TrafficAlert } from './types';

const KIND_KEYS: Record<AlertKind, TrafficKey> = { congestion: 'kindCongestion', slow: 'kindSlow', accident: 'kindAccident' };
const STATUS_KEYS: Record<string, TrafficKey> = {
  active: 'statusActive', acknowledged: 'statusAcknowledged', cleared: 'statusCleared', closed: 'statusClosed',
};

export function kindLabel(kind: string, lang = getLang()): string {
  const key = KIND_KEYS[kind as AlertKind];
  return key ? tt(key, lang) : kind;
}

export function clockTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  const time = date.toLocaleTimeString(locale(), { hour12: false, hour: '2-digit', minute: '2-digit' });
  if (new Date().toDateString() === date.toDateString()) return time;
  return `${date.toLocaleDateString(locale(), { month: '2-digit', day: '2-digit' })} ${time}`;
}

export function kmh(value: number | null | undefined): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${Math.round(value)}` : '—';
}

export interface AlertListOptions {
  onSelect: (alert: TrafficAlert) => void;
  canAct: () => boolean;
}

export class AlertList {
  readonly root = el('ul', 'traffic-alerts');
  /** The alert whose close form or refusal is open. */
  private form: { id: number; action: AlertAction | null; error: string; busy: boolean; text: string } | null = null;

  constructor(private readonly store: TrafficStore, private readonly options: AlertListOptions) {
    this.root.dataset.testid = 'traffic-alerts';
  }

  render(): void {
    const input = this.root.querySelector<HTMLInputElement>('.traffic-note');
    if (this.form && input) this.form.text = input.value;
    if (this.form && !this.store.alerts.has(this.form.id)) {
      // Gone meanwhile (closed elsewhere): what the server said still reaches the user.
      if (this.form.error) toast(this.form.error);
      this.form = null;
    }
    this.root.replaceChildren(...this.store.list().map((a) => this.item(a)));
  }

  private item(alert: TrafficAlert): HTMLElement {
    const lang = getLang();
    const level = levelOf(alert.level);
    const li = el('li', `traffic-alert kind-${alert.kind} status-${alert.status}`);
    li.dataset.testid = 'traffic-alert';
    li.dataset.alertId = String(alert.id);
    li.dataset.status = alert.status;
    li.dataset.kind = alert.kind;
    li.style.setProperty('--level', LEVEL_COLORS[level]);
    if (this.store.fresh.has(alert.id)) li.classList.add('fresh');
    li.tabIndex = 0;
    li.addEventListener('click', (e) => {
      if ((e.target as HTMLElement).closest('button, input, form, a')) return;
      this.options.onSelect(alert);
    });
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target === li) this.options.onSelect(alert);
    });

    const top = el('div', 'traffic-alert-top');
    const kind = el('span', 'traffic-alert-kind', kindLabel(alert.kind, lang));
    kind.title = kindLabel(alert.kind, otherLang(lang));
    const status = el('span', 'traffic-alert-status', tt(STATUS_KEYS[alert.status] ?? 'statusActive', lang));
    const since = el('time', 'traffic-alert-time', `${clockTime(alert.started_at)} ${tt('since', lang)}`);
    since.dateTime = alert.started_at;
    top.append(kind, status, since);

    const name = el('div', 'traffic-alert-name', [alert.pilot_code, alert.name].filter(Boolean).join(' · ') || tt('unnamedRoad', lang));
    const headline = lang === 'zh' ? alert.headline_zh : alert.headline_en;
    if (headline) name.title = headline;

    const meta = el('div', 'traffic-alert-meta');
    const chip = el('span', 'level-chip', pick(LEVEL_NAMES[level], lang));
    chip.style.setProperty('--level', LEVEL_COLORS[level]);
    meta.append(chip, el('span', 'traffic-alert-speed', `${kmh(alert.speed_kmh)} / ${kmh(alert.typical_kmh)} km/h`));
    meta.lastElementChild!.setAttribute('title', `${tt('speed', lang)} / ${tt('typicalLong', lang)}`);
    const cap = el('a', 'traffic-cap', tt('cap', lang));
    cap.href = absoluteUrl(`/api/traffic/alerts/${alert.id}.cap`);
    cap.download = `traffic-alert-${alert.id}.cap.xml`;
    cap.title = tt('capTitle', lang);
    cap.dataset.testid = 'traffic-alert-cap';
    meta.append(cap);
    li.append(top, name, meta);

    if (alert.acknowledged_by) {
      li.append(el('div', 'traffic-alert-ack', `✓ ${tt('statusAcknowledged', lang)} · ${tt('byWhom', lang)} ${alert.acknowledged_by}`));
    }
    if (this.options.canAct()) li.append(this.actions(alert));
    return li;
  }

  private actions(alert: TrafficAlert): HTMLElement {
    const lang = getLang();
    const form = this.form?.id === alert.id ? this.form : null;
    const box = el('form', 'traffic-alert-actions');
    box.addEventListener('submit', (e) => e.preventDefault());
    if (form?.action === 'close') {
      const input = el('input', 'traffic-note');
      input.type = 'text';
      input.maxLength = 500;
      input.placeholder = tt('closeNote', lang);
      input.value = form.text;
      input.disabled = form.busy;
      input.dataset.testid = 'traffic-alert-note';
      const submit = this.button('closeAlert', 'traffic-alert-submit', () => void this.submit(alert.id, 'close', input.value), form.busy, true);
      const cancel = this.button('cancel', 'traffic-alert-cancel', () => {
        this.form = null;
        this.render();
      });
      box.append(input, submit, cancel);
      requestAnimationFrame(() => {
        if (!form.busy && input.isConnected && document.activeElement !== input) input.focus();
      });
    } else {
      const busy = !!form?.busy;
      const allowed = Array.isArray(alert.allowed_actions)
        ? alert.allowed_actions
        : alert.status === 'active' ? ['acknowledge', 'close'] : ['close'];
      if (allowed.includes('acknowledge')) {
        box.append(this.button('acknowledge', 'traffic-alert-ack', () => void this.submit(alert.id, 'acknowledge', ''), busy));
      }
      if (allowed.includes('close')) {
        box.append(this.button('closeAlert', 'traffic-alert-close', () => {
          this.form = { id: alert.id, action: 'close', error: '', busy: false, text: '' };
          this.render();
        }, busy));
      }
    }
    if (form?.error) {
      const error = el('div', 'traffic-alert-error', form.error);
      error.dataset.testid = 'traffic-alert-error';
      error.setAttribute('role', 'alert');
      box.append(error);
    }
    return box;
  }

  private button(key: TrafficKey, testid: string, run: () => void, disabled = false, primary = false): HTMLButtonElement {
    const b = el('button', `alarm-btn${primary ? ' primary' : ''}`, tt(key));
    b.type = 'button';
    b.dataset.testid = testid;
    b.disabled = disabled;
    b.addEventListener('click', run);
    return b;
  }

  private async submit(id: number, action: AlertAction, note: string): Promise<void> {
    if (this.form?.busy) return;
    this.form = { id, action: action === 'close' ? 'close' : null, error: '', busy: true, text: note };
    this.render();
    const error = await this.store.act(id, action, note);
    if (error === null) {
      if (this.form?.id === id) this.form = null;
    } else {
      this.form = { id, action: null, error: `${tt('actionFailed')}: ${error}`, busy: false, text: note };
    }
    this.render();
  }
}
