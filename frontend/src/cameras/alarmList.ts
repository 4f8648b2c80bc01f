/**
 * The camera alarm list: newest first, each with its kind, camera and time; for users with
 * `cameras:alarms` the buttons 确认 (acknowledge), 转为案件 (a small form: category, urgency,
 * description; the answer's case number links to the desk) and 播放 (the video panel); others
 * (the traffic police) see the list read-only, with 播放.
 */

import { el } from '../dom';
import { getLang } from '../i18n';
import { formatTime } from '../desk/names';
import { describeError, toast } from '../toast';
import type { CameraAlarmStore } from './alarmStore';
import { ct } from './strings';
import type { CameraAlarm } from './types';

export interface AlarmListHooks {
  canAct: () => boolean;
  onSelect: (alarm: CameraAlarm) => void;
  onPlay: (alarm: CameraAlarm) => void;
  onCase: (incidentId: number) => void;
}

export class CameraAlarmList {
  readonly root = el('section', 'cam-alarms');
  private readonly list = el('ul', 'cam-alarm-list');
  private readonly title = el('h3', 'cam-section-title');
  private formFor: number | null = null;
  /** The open form, kept across re-renders (a live alarm must not wipe what is being typed). */
  private formNode: HTMLElement | null = null;
  private busy = new Set<number>();

  constructor(private readonly store: CameraAlarmStore, private readonly hooks: AlarmListHooks) {
    this.root.dataset.testid = 'camera-alarms';
    this.list.dataset.testid = 'camera-alarm-list';
    this.root.append(this.title, this.list);
  }

  render(): void {
    const rows = this.store.list;
    const act = this.hooks.canAct();
    this.title.textContent = `${ct('alarms')} ${rows.length}${act ? '' : ` · ${ct('readOnly')}`}`;
    this.list.replaceChildren();
    if (this.store.failed) this.list.append(el('li', 'cam-none', `${ct('alarmsFailed')}: ${this.store.failed}`));
    else if (this.store.loaded && !rows.length) this.list.append(el('li', 'cam-none', ct('alarmsEmpty')));
    for (const alarm of rows) this.list.append(this.row(alarm, act));
  }

  private row(alarm: CameraAlarm, act: boolean): HTMLElement {
    const lang = getLang();
    const li = el('li', `cam-alarm cam-alarm-${alarm.state}`);
    li.dataset.testid = 'camera-alarm';
    li.dataset.alarmId = String(alarm.id);
    li.dataset.state = alarm.state;
    const head = el('button', 'cam-alarm-head');
    head.type = 'button';
    head.addEventListener('click', () => this.hooks.onSelect(alarm));
    const kind = el('span', `cam-alarm-kind cam-prio-${alarm.priority}`, this.store.kindName(alarm.kind, lang));
    kind.dataset.testid = 'camera-alarm-kind';
    head.append(kind, el('span', 'cam-alarm-camera', alarm.camera_name ?? alarm.camera), el('time', 'cam-alarm-time', formatTime(alarm.time)));
    li.append(head);
    if (alarm.description) li.append(el('p', 'cam-alarm-desc', alarm.description));
    const actions = el('div', 'cam-alarm-actions');
    if (alarm.case_no) {
      const link = el('a', 'cam-case-link', `${ct('caseMade')} ${alarm.case_no} · ${ct('openDesk')}`);
      link.href = '#';
      link.dataset.testid = 'camera-alarm-case';
      link.addEventListener('click', (e) => {
        e.preventDefault();
        if (alarm.incident_id !== null) this.hooks.onCase(alarm.incident_id);
      });
      actions.append(link);
    } else if (alarm.state === 'acknowledged') {
      actions.append(el('span', 'cam-acked', `${ct('acknowledged')}${alarm.acknowledged_by ? ` · ${alarm.acknowledged_by}` : ''}`));
    }
    const button = (key: 'acknowledge' | 'toCase' | 'play', testid: string, run: () => void): HTMLButtonElement => {
      const b = el('button', 'cam-button', ct(key));
      b.type = 'button';
      b.dataset.testid = testid;
      b.disabled = this.busy.has(alarm.id);
      b.addEventListener('click', run);
      actions.append(b);
      return b;
    };
    if (act && alarm.state === 'open' && !alarm.case_no) button('acknowledge', 'camera-alarm-ack', () => void this.ack(alarm.id));
    if (act && !alarm.case_no) button('toCase', 'camera-alarm-to-case', () => void this.openForm(alarm.id));
    button('play', 'camera-alarm-play', () => this.hooks.onPlay(alarm));
    li.append(actions);
    if (act && this.formFor === alarm.id && !alarm.case_no) {
      this.formNode ??= this.form(alarm);
      li.append(this.formNode);
    }
    return li;
  }

  private async ack(id: number): Promise<void> {
    this.busy.add(id);
    this.render();
    try {
      await this.store.acknowledge(id);
    } catch (err) {
      toast(ct('actionFailed'), describeError(err));
    } finally {
      this.busy.delete(id);
      this.render();
    }
  }

  private async openForm(id: number): Promise<void> {
    this.formFor = this.formFor === id ? null : id;
    this.formNode = null;
    if (this.formFor !== null) {
      try {
        await this.store.loadCategories();
      } catch (err) {
        toast(ct('noCategories'), describeError(err));
      }
    }
    this.render();
  }

  private form(alarm: CameraAlarm): HTMLElement {
    const form = el('form', 'cam-case-form');
    form.dataset.testid = 'camera-case-form';
    const category = el('select', 'cam-input');
    category.dataset.testid = 'camera-case-category';
    category.required = true;
    const groups = new Map<string, HTMLOptGroupElement>();
    for (const c of this.store.categories) {
      let group = groups.get(c.major_name);
      if (!group) {
        group = el('optgroup');
        group.label = c.major_name;
        groups.set(c.major_name, group);
        category.append(group);
      }
      const option = el('option', '', `${c.name} (${c.code})`);
      option.value = c.code;
      group.append(option);
    }
    const categoryLabel = el('label', 'cam-field');
    categoryLabel.append(el('span', '', ct('category')), category);
    const urgent = el('input');
    urgent.type = 'checkbox';
    urgent.dataset.testid = 'camera-case-urgent';
    urgent.checked = alarm.priority <= 1;
    const urgentLabel = el('label', 'cam-check');
    urgentLabel.append(urgent, el('span', '', ct('urgent')));
    const note = el('textarea', 'cam-input');
    note.rows = 2;
    note.maxLength = 4000;
    note.placeholder = ct('description');
    note.dataset.testid = 'camera-case-description';
    const submit = el('button', 'cam-button cam-primary', ct('submit'));
    submit.type = 'submit';
    submit.dataset.testid = 'camera-case-submit';
    submit.disabled = !this.store.categories.length;
    const cancel = el('button', 'cam-button', ct('cancel'));
    cancel.type = 'button';
    cancel.addEventListener('click', () => {
      this.formFor = null;
      this.formNode = null;
      this.render();
    });
    const row = el('div', 'cam-alarm-actions');
    row.append(submit, cancel);
    form.append(categoryLabel, urgentLabel, note, row);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit(alarm.id, category.value, urgent.checked, note.value.trim());
    });
    return form;
  }

  private async submit(id: number, code: string, urgent: boolean, description: string): Promise<void> {
    if (!code) return;
    this.busy.add(id);
    try {
      const body = { category_code: code, urgency: urgent ? 'urgent' as const : 'normal' as const, ...(description ? { description } : {}) };
      const answer = await this.store.toCase(id, body);
      this.formFor = null;
      this.formNode = null;
      if (answer?.case_no) toast(ct('caseMade'), answer.case_no, { kind: 'info' });
    } catch (err) {
      toast(ct('actionFailed'), describeError(err));
    } finally {
      this.busy.delete(id);
      this.render();
    }
  }
}
