/**
 * One case on the desk: what and where, the running clock, the buttons for the actions the
 * server allows this user (`actions`), each opening a small form (dispatch: department and a
 * nearby grid worker; a note where the flow needs one; hours for an extension), what is near
 * the case (grid workers, vehicles, cameras; click one to see it on the map), and the timeline
 * with its photos (`GET /api/photos/{sha256}`, a placeholder when a photo cannot be shown).
 */

import { getLang, otherLang, t } from '../i18n';
import { evidence, photoStrip } from './deskEvidence';
import { assigneeOptions, renderNearby } from './deskNearby';
import { button, el } from './dom';
import {
  actionName,
  countdownLevel,
  countdownText,
  formatTime,
  NEEDS_NOTE,
  nextActor,
  stageName,
  stateName,
} from './names';
import type { DeskStore } from './store';
import type { IncidentDetail, TimelineEvent } from './types';

const DANGER = new Set(['void', 'return', 'rework', 'park', 'deny_extension']);
/** The flow's next step for the desk's roles: drawn as the primary button. */
const PRIMARY = ['dispatch', 'file', 'send_to_verify', 'confirm', 'grant_extension', 'accept', 'start', 'handle', 'unpark'];

interface Form {
  action: string;
  note: string;
  department: string;
  assignee: string;
  verifier: string;
  hours: string;
  busy: boolean;
  error: string;
}

export interface DetailHooks {
  /** Show a point on the map. */
  focus: (lon: number, lat: number) => void;
  /** Back to the queue. */
  back: () => void;
}

export function badge(className: string, text: string, title = ''): HTMLElement {
  const node = el('span', `desk-badge ${className}`, text);
  if (title) node.title = title;
  return node;
}

export function statePill(state: string): HTMLElement {
  const node = el('span', 'desk-state', stateName(state));
  node.dataset.state = state;
  node.title = stateName(state, otherLang());
  return node;
}

/** Who acted: the person's name and unit (the login name as the tooltip). */
function actorName(e: TimelineEvent): HTMLElement {
  const who = [e.actor_name || e.actor, e.actor_unit].filter(Boolean).join(' · ');
  const node = el('span', 'desk-event-actor', who);
  node.title = e.actor;
  return node;
}

/** The running stage of a case: its name and due time (null when no clock runs). */
function runningStage(detail: IncidentDetail): { stage: string; due: string | null } | null {
  for (const [stage, clock] of Object.entries(detail.clocks?.stages ?? {})) {
    if (clock.running) return { stage, due: clock.due_at };
  }
  return null;
}

export function countdown(due: string | null, fallback = ''): HTMLElement {
  const node = el('span', 'desk-countdown');
  node.dataset.testid = 'desk-countdown';
  if (due) {
    node.dataset.due = due;
    node.dataset.level = countdownLevel(due);
    node.textContent = countdownText(due);
  } else {
    node.dataset.level = 'none';
    node.textContent = fallback;
  }
  return node;
}

export class DeskDetail {
  private form: Form | null = null;
  private formCase: number | null = null;

  constructor(
    private readonly store: DeskStore,
    private readonly hooks: DetailHooks,
  ) {}

  /** Closes an open form (another case was opened). */
  reset(): void {
    this.form = null;
    this.formCase = null;
  }

  /** Keeps what is typed in an open form across re-renders. */
  captureInputs(root: HTMLElement): void {
    if (!this.form) return;
    for (const field of root.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-field]')) {
      const key = field.dataset.field as keyof Form;
      if (key in this.form && typeof this.form[key] === 'string') (this.form as unknown as Record<string, string>)[key] = field.value;
    }
  }

  render(): HTMLElement {
    const store = this.store;
    const box = el('div', 'desk-detail');
    box.dataset.testid = 'desk-detail';
    const top = el('div', 'desk-detail-nav');
    const back = button('desk-link', `‹ ${t('deskBack')}`, () => this.hooks.back());
    back.dataset.testid = 'desk-back';
    top.append(back);
    box.append(top);
    const detail = store.detail;
    if (this.formCase !== store.selectedId) this.reset();
    if (!detail) {
      box.append(el('p', 'panel-note', store.detailFailed ? `${t('caseLoadFailed')}: ${store.detailFailed}` : t('loading')));
      return box;
    }
    box.dataset.caseId = String(detail.id);
    box.dataset.state = detail.state;
    // Evidence first (the photos, large), then the facts, the actions, what is near, the history.
    box.append(this.renderHead(detail));
    const photos = evidence(detail.photos ?? []);
    if (photos) box.append(photos);
    box.append(this.renderFacts(detail), this.renderActions(detail));
    if (store.canAct) box.append(renderNearby(detail, store, this.hooks.focus));
    box.append(this.renderTimeline(detail.timeline));
    return box;
  }

  private renderHead(d: IncidentDetail): HTMLElement {
    const head = el('div', 'desk-detail-head');
    const title = el('div', 'desk-detail-title');
    if (d.urgency === 'urgent') title.append(badge('desk-badge-urgent', t('deskUrgent')));
    const no = el('span', 'desk-case-no', d.case_no);
    no.dataset.testid = 'desk-detail-case-no';
    title.append(no, statePill(d.state));
    if (d.supervised) title.append(badge('desk-badge-supervised', '督办', t('deskSupervised', 'en')));
    if (d.extension_pending) title.append(badge('desk-badge-ext', t('deskExtensionPending')));
    const locate = button('desk-link desk-locate', t('deskLocate'), () => this.hooks.focus(d.lon, d.lat));
    locate.title = t('flyTo');
    locate.dataset.testid = 'desk-locate';
    head.append(title, locate);
    return head;
  }

  private renderFacts(d: IncidentDetail): HTMLElement {
    const facts = el('dl', 'desk-facts');
    const add = (label: string, value: string | HTMLElement | null | undefined): void => {
      if (value === null || value === undefined || value === '') return;
      const dd = el('dd');
      if (typeof value === 'string') dd.textContent = value;
      else dd.append(value);
      facts.append(el('dt', '', label), dd);
    };
    add(t('caseCategory'), `${d.category_name ?? d.category_code} (${d.category_code})`);
    add(t('casePlace'), [d.address, d.township_name, d.community, d.grid_name ?? d.grid_code].filter(Boolean).join(' · '));
    add(t('caseDepartment'), d.department_name ?? d.department_code);
    add(t('caseAssignee'), d.assignee);
    add(t('caseReported'), `${formatTime(d.reported_at)}${d.reporter ? ` · ${d.reporter}` : ''}`);
    const stage = runningStage(d);
    if (stage) {
      const clock = el('span', 'desk-clock');
      clock.append(el('span', 'desk-clock-stage', stageName(stage.stage)), countdown(stage.due));
      add(t('caseStageClock'), clock);
    }
    if (d.clocks?.case?.due_at && !['closed', 'voided'].includes(d.state)) add(t('caseDue'), formatTime(d.clocks.case.due_at));
    const description = el('p', 'desk-description', d.description);
    const wrap = el('div', 'desk-facts-wrap');
    wrap.append(description, facts);
    return wrap;
  }

  private renderActions(d: IncidentDetail): HTMLElement {
    const wrap = el('div', 'desk-actions');
    wrap.dataset.testid = 'desk-actions';
    if (this.form) {
      wrap.append(this.renderForm(d, this.form));
      return wrap;
    }
    if (!d.actions.length) {
      // Not "nothing to do" but who acts next (待立案: 监督中心 files it).
      const next = nextActor(d.state);
      const note = el('p', 'panel-note desk-next', next ? `${t('caseNextActor')}: ${next}` : t('caseNoActions'));
      note.dataset.testid = 'desk-next-actor';
      wrap.append(note);
      return wrap;
    }
    const primary = PRIMARY.find((a) => d.actions.includes(a));
    for (const action of d.actions) {
      const cls = action === primary ? 'primary' : DANGER.has(action) ? 'danger' : '';
      const node = button(`desk-btn ${cls}`, actionName(action), () => this.open(d, action));
      node.dataset.testid = `desk-action-${action}`;
      node.title = actionName(action, otherLang());
      wrap.append(node);
    }
    return wrap;
  }

  private open(d: IncidentDetail, action: string): void {
    this.formCase = d.id;
    this.form = {
      action,
      note: '',
      department: d.department_code ?? '',
      assignee: '',
      verifier: '',
      hours: '8',
      busy: false,
      error: '',
    };
    if (action === 'dispatch') void this.store.loadDepartments();
    this.store.touch();
  }

  private renderForm(d: IncidentDetail, form: Form): HTMLElement {
    const box = el('form', 'desk-form');
    box.dataset.testid = 'desk-form';
    box.dataset.action = form.action;
    box.append(el('div', 'desk-form-title', actionName(form.action)));
    const field = (label: string, control: HTMLElement): void => {
      const row = el('label', 'desk-field');
      row.append(el('span', 'desk-field-label', label), control);
      box.append(row);
    };
    if (form.action === 'dispatch') {
      const dept = el('select', 'desk-input');
      dept.dataset.field = 'department';
      dept.dataset.testid = 'desk-department';
      const known = this.store.departments.length
        ? this.store.departments
        : [{ code: d.department_code ?? '', name: d.department_name ?? d.department_code ?? '' }];
      for (const dep of known) {
        const option = el('option', '', `${dep.name} (${dep.code})`);
        option.value = dep.code;
        dept.append(option);
      }
      dept.value = form.department;
      field(t('dispatchTo'), dept);
      const who = el('select', 'desk-input');
      who.dataset.field = 'assignee';
      who.dataset.testid = 'desk-assignee';
      const none = el('option', '', t('dispatchNoAssignee'));
      none.value = '';
      who.append(none);
      who.append(...assigneeOptions(this.store.nearby));
      who.value = form.assignee;
      field(t('dispatchAssignee'), who);
    }
    if (form.action === 'grant_extension') {
      const hours = el('input', 'desk-input');
      hours.type = 'number';
      hours.min = '1';
      hours.max = '240';
      hours.step = '1';
      hours.value = form.hours;
      hours.dataset.field = 'hours';
      field(t('extensionHours'), hours);
    }
    if (form.action === 'send_to_verify') {
      const verifier = el('input', 'desk-input');
      verifier.value = form.verifier;
      verifier.dataset.field = 'verifier';
      verifier.maxLength = 64;
      field(t('verifierOptional'), verifier);
    }
    const note = el('input', 'desk-input');
    note.type = 'text';
    note.maxLength = 2000;
    note.value = form.note;
    note.dataset.field = 'note';
    note.dataset.testid = 'desk-note';
    note.required = NEEDS_NOTE.has(form.action);
    note.placeholder = t(note.required ? 'noteRequired' : 'noteOptional');
    box.append(note);
    const row = el('div', 'desk-form-buttons');
    const submit = el('button', 'desk-btn primary', t('submit'));
    submit.type = 'submit';
    submit.dataset.testid = 'desk-submit';
    submit.disabled = form.busy;
    const cancel = button('desk-btn', t('cancel'), () => {
      this.reset();
      this.store.touch();
    });
    row.append(submit, cancel);
    box.append(row);
    if (form.error) {
      const error = el('div', 'desk-error', `${t('actionFailed')}: ${form.error}`);
      error.setAttribute('role', 'alert');
      error.dataset.testid = 'desk-error';
      box.append(error);
    }
    for (const control of box.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-field]')) {
      control.disabled = form.busy;
      control.addEventListener('change', () => this.captureInputs(box));
      control.addEventListener('input', () => this.captureInputs(box));
    }
    box.addEventListener('submit', (e) => {
      e.preventDefault();
      this.captureInputs(box);
      void this.submit(form.action);
    });
    return box;
  }

  private async submit(action: string): Promise<void> {
    const form = this.form;
    if (!form || form.busy) return;
    const body: Record<string, unknown> = {};
    if (form.note.trim()) body.note = form.note.trim();
    if (action === 'dispatch') {
      if (form.department) body.department_code = form.department;
      if (form.assignee) body.assignee = form.assignee;
    }
    if (action === 'grant_extension') body.extension_hours = Number(form.hours);
    if (action === 'send_to_verify' && form.verifier.trim()) body.verifier = form.verifier.trim();
    form.busy = true;
    form.error = '';
    this.store.touch();
    const error = await this.store.act(action, body);
    if (this.form !== form) return;
    if (error === null) this.reset();
    else {
      form.busy = false;
      form.error = error;
    }
    this.store.touch();
  }

  private renderTimeline(events: TimelineEvent[]): HTMLElement {
    const box = el('section', 'desk-section');
    box.append(el('h3', 'desk-section-title', t('caseTimeline')));
    const list = el('ol', 'desk-timeline');
    list.dataset.testid = 'desk-timeline';
    for (const e of [...events].reverse()) {
      const item = el('li', 'desk-event');
      item.dataset.action = e.action;
      const head = el('div', 'desk-event-head');
      head.append(
        el('span', 'desk-event-action', actionName(e.action)),
        actorName(e),
        el('time', 'desk-event-time', formatTime(e.at)),
      );
      item.append(head);
      if (e.from_state && e.from_state !== e.to_state) {
        item.append(el('div', 'desk-event-states', `${stateName(e.from_state)} → ${stateName(e.to_state)}`));
      }
      if (e.note) item.append(el('div', 'desk-event-note', e.note));
      if (e.photos.length) item.append(photoStrip(e.photos));
      list.append(item);
    }
    box.append(list);
    return box;
  }
}

export function langPair(key: Parameters<typeof t>[0]): HTMLElement {
  const title = el('span', 'desk-title');
  title.append(el('span', 'name-main', t(key)), el('span', 'name-sub', t(key, otherLang(getLang()))));
  return title;
}
