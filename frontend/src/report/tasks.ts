/**
 * 我的任务: the worker's own cases (GET /api/incidents?mine=true): those assigned to them to
 * handle, those sent to them to verify, and their recent reports. Each task shows the buttons
 * of the actions the case allows now (`actions` of GET /api/incidents/{id}) that a worker
 * takes in the field; the worker's position goes with every action.
 */

import { currentFix, type PositionSharing } from './geo';
import { applyTexts, onLang, t, tMaybe, type Key } from './i18n';
import { getJSON, messageOf, postJSON, request, type Incident, type Photo, type User } from './net';
import { h, prepare, shortTime, toast } from './ui';

const FIELD_ACTIONS = ['accept', 'start', 'handle', 'request_extension', 'return', 'confirm', 'rework'] as const;
type FieldAction = (typeof FIELD_ACTIONS)[number];
const NEEDS_NOTE = new Set<FieldAction>(['handle', 'request_extension', 'return', 'rework']);
const TAKES_PHOTO = new Set<FieldAction>(['handle', 'rework']);
const FORWARD = new Set<FieldAction>(['accept', 'start', 'handle', 'confirm']); // the main step
const HANDLING = new Set(['dispatched', 'accepted', 'in_progress']);

export class TaskList {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly share: HTMLInputElement;
  private readonly shareNote: HTMLElement;
  private user: User | null = null;
  private loading = false;

  constructor(sharing: PositionSharing) {
    this.share = h('input', { type: 'checkbox', class: 'rp-switch', testid: 'share-position' });
    this.share.checked = sharing.enabled;
    this.share.addEventListener('change', () => {
      sharing.enabled = this.share.checked;
    });
    this.shareNote = h('span', { class: 'rp-note' });
    sharing.onSent = () => {
      this.shareNote.textContent = `${t('positionSent')} ${shortTime(sharing.lastSent)}`;
    };
    const refresh = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost rp-btn-small', t: 'refresh', testid: 'tasks-refresh' });
    refresh.addEventListener('click', () => void this.refresh());
    this.list = h('div', { class: 'rp-tasks', testid: 'tasks' });
    this.element = h(
      'section',
      { class: 'rp-panel' },
      h('label', { class: 'rp-share' }, this.share, h('span', { t: 'shareLocation' })),
      this.shareNote,
      h('div', { class: 'rp-row rp-row-end' }, refresh),
      this.list,
    );
    applyTexts(this.element);
    onLang(() => {
      applyTexts(this.element);
      void this.refresh();
    });
  }

  setUser(user: User | null): void {
    this.user = user;
  }

  async refresh(): Promise<void> {
    if (!this.user || this.loading) return;
    if (!navigator.onLine) {
      this.list.replaceChildren(h('p', { class: 'rp-empty', t: 'tasksOffline' }));
      applyTexts(this.list);
      return;
    }
    this.loading = true;
    try {
      const me = this.user.username;
      const page = await getJSON<{ incidents: Incident[] }>('/api/incidents?mine=true&limit=100');
      const handle = page.incidents.filter((c) => c.assignee === me && HANDLING.has(c.state));
      const verify = page.incidents.filter((c) => c.verifier === me && c.state === 'verifying');
      const reports = page.incidents.filter((c) => c.reporter === me && !handle.includes(c) && !verify.includes(c)).slice(0, 20);
      const detailed = await Promise.all(
        [...handle, ...verify].map((c) => getJSON<Incident>(`/api/incidents/${c.id}`).catch(() => c)),
      );
      const byId = new Map(detailed.map((c) => [c.id, c]));
      const sections: HTMLElement[] = [];
      const section = (title: Key, cases: Incident[], actionable: boolean) => {
        if (!cases.length) return;
        sections.push(
          h('h2', { class: 'rp-h2' }, `${t(title)} · ${cases.length}`),
          ...cases.map((c) => this.card(byId.get(c.id) ?? c, actionable)),
        );
      };
      section('toHandle', handle, true);
      section('toVerify', verify, true);
      section('myReports', reports, false);
      if (!sections.length) sections.push(h('p', { class: 'rp-empty', t: 'tasksEmpty' }));
      this.list.replaceChildren(...sections);
      applyTexts(this.list);
    } catch (err) {
      this.list.replaceChildren(h('p', { class: 'rp-empty rp-warn' }, messageOf(err)));
    } finally {
      this.loading = false;
    }
  }

  private card(c: Incident, actionable: boolean): HTMLElement {
    const state = h('span', { class: `rp-state rp-state-${c.state}` }, tMaybe(`st_${c.state}`, c.state));
    const badges = [state];
    if (c.urgency === 'urgent') badges.push(h('span', { class: 'rp-badge rp-badge-urgent', t: 'urgent' }));
    if (c.supervised) badges.push(h('span', { class: 'rp-badge rp-badge-urgent', t: 'supervised' }));
    const photos = (c.photos ?? []).slice(0, 4).map((sha) =>
      h('img', { class: 'rp-task-photo', src: `/api/photos/${sha}`, alt: '', loading: 'lazy' }),
    );
    const due = c.stage_due_at ? h('span', { class: 'rp-note' }, `${t('due')} ${shortTime(c.stage_due_at)}`) : null;
    const buttons = h('div', { class: 'rp-actions' });
    const drawer = h('div', { class: 'rp-drawer' });
    if (actionable) {
      for (const action of FIELD_ACTIONS) {
        if (!(c.actions ?? []).includes(action)) continue;
        const b = h('button', {
          type: 'button',
          class: `rp-btn ${FORWARD.has(action) ? 'rp-btn-primary' : 'rp-btn-ghost'}`,
          testid: `act-${action}`,
        }, t(`act_${action}` as Key));
        b.addEventListener('click', () => {
          if (NEEDS_NOTE.has(action) || TAKES_PHOTO.has(action)) this.openDrawer(drawer, c, action);
          else void this.act(c, action, '', [], b);
        });
        buttons.append(b);
      }
    }
    return h(
      'article',
      { class: 'rp-card', testid: 'task', 'data-case': c.case_no },
      h('div', { class: 'rp-card-head' }, h('strong', {}, c.case_no), ...badges),
      h('div', { class: 'rp-card-cat' }, `${c.category_name ?? c.category_code}${c.grid_name ? ` · ${c.grid_name}` : ''}`),
      h('p', { class: 'rp-card-text' }, c.description),
      c.address ? h('p', { class: 'rp-note' }, c.address) : null,
      photos.length ? h('div', { class: 'rp-task-photos' }, ...photos) : null,
      due,
      buttons.childElementCount ? buttons : null,
      drawer,
    );
  }

  private openDrawer(drawer: HTMLElement, c: Incident, action: FieldAction): void {
    const note = h('textarea', { class: 'rp-input rp-textarea', rows: 2, maxlength: 2000, testid: 'action-note' });
    note.placeholder = t('note');
    const files = h('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: true, class: 'rp-file', testid: 'action-photo' });
    const picked = h('span', { class: 'rp-note' });
    files.addEventListener('change', () => {
      picked.textContent = files.files?.length ? `${files.files.length} ${t('photoCount')}` : '';
    });
    const send = h('button', { type: 'button', class: 'rp-btn rp-btn-primary', testid: 'action-send' }, t('send'));
    const cancel = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost' }, t('cancel'));
    cancel.addEventListener('click', () => drawer.replaceChildren());
    send.addEventListener('click', () => {
      if (NEEDS_NOTE.has(action) && !note.value.trim()) {
        toast(t('noteRequired'), 'error');
        note.focus();
        return;
      }
      void this.act(c, action, note.value.trim(), [...(files.files ?? [])], send);
    });
    const parts: HTMLElement[] = [h('div', { class: 'rp-drawer-title' }, t(`act_${action}` as Key)), note];
    if (TAKES_PHOTO.has(action)) {
      parts.push(
        h('label', { class: 'rp-btn rp-btn-ghost rp-photo-add' }, h('span', { class: 'rp-cam', 'aria-hidden': 'true' }), h('span', {}, t('afterPhoto')), files),
        picked,
      );
    }
    parts.push(h('div', { class: 'rp-row' }, cancel, send));
    drawer.replaceChildren(...parts);
    note.focus();
  }

  private async act(c: Incident, action: FieldAction, note: string, files: File[], button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      const hashes: string[] = [];
      for (const file of files) {
        const form = new FormData();
        form.append('file', await prepare(file));
        const response = await request('/api/photos', { method: 'POST', body: form }, 120_000);
        hashes.push(((await response.json()) as Photo).sha256);
      }
      const fix = await currentFix();
      await postJSON(`/api/incidents/${c.id}/actions/${action}`, {
        ...(note ? { note } : {}),
        photos: hashes,
        ...(fix ? { lon: fix.lon, lat: fix.lat } : {}),
      });
      toast(`${c.case_no} · ${t(`act_${action}` as Key)} · ${t('done')}`);
      await this.refresh();
    } catch (err) {
      toast(`${t('actionFailed')}: ${messageOf(err)}`, 'error');
      button.disabled = false;
    }
  }
}
