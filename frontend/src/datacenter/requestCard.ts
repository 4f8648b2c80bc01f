/**
 * One data request as a card: dataset, provider, requester, purpose, fields, period, status,
 * the time limits (bureau check, provider answer; overdue in red), the grant and the steps.
 * `mode` adds the actions of the one looking at it: the requester may withdraw an open request,
 * the bureau passes or refuses a request in its check (and escalates a 不予共享 one), the
 * provider's steward approves or refuses one in its answer. Refusing needs a reason.
 */

import { toast } from '../toast';
import { actOnRequest, type RequestAction } from './dcApi';
import { label, s, type Key } from './i18n';
import type { DataRequest } from './types';
import { badge, dueNode, el, errorText, fmtDate, fmtTime, shareBadge } from './ui';

export type CardMode = 'mine' | 'review' | 'answer' | 'view';

interface Act {
  action: RequestAction;
  text: Key;
  body?: (reason: string) => Record<string, string>;
  needsReason: boolean;
  kind: 'primary' | 'danger' | 'plain';
  testid: string;
}

function actsFor(r: DataRequest, mode: CardMode): Act[] {
  const open = r.status === 'bureau_review' || r.status === 'provider_review';
  if (mode === 'mine' && open) {
    return [{ action: 'withdraw', text: 'withdraw', needsReason: false, kind: 'plain', testid: 'request-withdraw' }];
  }
  if (mode === 'review' && r.status === 'bureau_review') {
    const acts: Act[] = [
      { action: 'review', text: 'pass', body: (reason) => ({ decision: 'pass', reason }), needsReason: false, kind: 'primary', testid: 'request-pass' },
      { action: 'review', text: 'sendBack', body: (reason) => ({ decision: 'refuse', reason }), needsReason: true, kind: 'danger', testid: 'request-refuse' },
    ];
    if (r.share_type === 'none' && !r.escalated_at) {
      acts.push({ action: 'escalate', text: 'escalate', body: (reason) => ({ reason }), needsReason: true, kind: 'plain', testid: 'request-escalate' });
    }
    return acts;
  }
  if (mode === 'answer' && r.status === 'provider_review') {
    return [
      { action: 'answer', text: 'approve', body: (reason) => ({ decision: 'approve', reason }), needsReason: false, kind: 'primary', testid: 'request-approve' },
      { action: 'answer', text: 'refuse', body: (reason) => ({ decision: 'refuse', reason }), needsReason: true, kind: 'danger', testid: 'request-refuse' },
    ];
  }
  return [];
}

function steps(r: DataRequest): HTMLElement {
  const list = el('ol', 'dc-steps');
  list.dataset.testid = 'request-steps';
  for (const step of r.steps ?? []) {
    const li = el('li', 'dc-step');
    li.append(el('span', 'dc-step-at', fmtTime(step.at)), el('strong', '', label('request_step', step.action)), el('span', 'dc-dim', ` · ${step.actor}`));
    if (step.note) li.append(el('div', 'dc-step-note', step.note));
    list.append(li);
  }
  return list;
}

export function requestCard(r: DataRequest, mode: CardMode, onChanged: (r: DataRequest | null) => void): HTMLElement {
  const card = el('article', `dc-card dc-request dc-request-${r.status}`);
  card.dataset.testid = 'request-card';
  card.dataset.requestId = String(r.id);
  card.dataset.status = r.status;
  const head = el('div', 'dc-card-head');
  const name = el('a', 'dc-link dc-card-title', r.dataset_name);
  name.href = `#dataset/${encodeURIComponent(r.dataset_id)}`;
  const status = badge(label('request_status', r.status), `req-${r.status}`);
  status.dataset.testid = 'request-status';
  head.append(el('span', 'dc-dim', `#${r.id}`), name, shareBadge(r.share_type), status);
  if (r.overdue) head.append(badge(s('overdue'), 'overdue'));
  card.append(head);

  const dl = el('dl', 'dc-facts dc-facts-compact');
  const pair = (k: Key, v: string | Node): void => {
    const dd = el('dd');
    dd.append(v);
    dl.append(el('dt', '', s(k)), dd);
  };
  pair('provider', r.provider_department);
  pair('requester', `${r.requester}${r.requester_department ? ` (${r.requester_department})` : ''}`);
  pair('purposeShort', r.purpose);
  if (r.fields?.length) pair('fieldsNeeded', r.fields.join('、'));
  pair('period', `${r.period_days} ${s('days')}`);
  pair('createdAt', fmtTime(r.created_at));
  if (r.status === 'bureau_review') pair('bureauDue', dueNode(r.bureau_due_at, r.overdue));
  if (r.status === 'provider_review') pair('providerDue', dueNode(r.provider_due_at, r.overdue));
  if (r.reason) pair('reason', r.reason);
  if (r.grant) pair('grant', `${fmtDate(r.grant.valid_from)} – ${fmtDate(r.grant.valid_until)}`);
  card.append(dl);
  if (r.steps?.length) {
    const box = el('details', 'dc-steps-box');
    box.append(el('summary', '', `${s('steps')} (${r.steps.length})`), steps(r));
    box.open = mode === 'mine';
    card.append(box);
  }

  const acts = actsFor(r, mode);
  if (acts.length) {
    const form = el('div', 'dc-card-actions');
    const reason = el('textarea', 'dc-input dc-textarea');
    reason.rows = 2;
    reason.maxLength = 1000;
    reason.placeholder = s('reasonRequired');
    reason.setAttribute('aria-label', s('reasonRequired'));
    reason.dataset.testid = 'request-reason';
    const error = el('div', 'dc-form-error');
    error.setAttribute('role', 'alert');
    const buttons = el('div', 'dc-actions');
    for (const act of acts) {
      const b = el('button', `dc-button dc-button-${act.kind}`, s(act.text));
      b.type = 'button';
      b.dataset.testid = act.testid;
      b.addEventListener('click', () => {
        const text = reason.value.trim();
        if (act.needsReason && !text) {
          error.textContent = s('reasonMissing');
          reason.focus();
          return;
        }
        error.textContent = '';
        for (const other of buttons.querySelectorAll('button')) other.disabled = true;
        actOnRequest(r.id, act.action, act.body ? act.body(text) : undefined)
          .then((updated) => {
            toast(s('done'), `#${r.id} · ${s(act.text)}`, { kind: 'info' });
            onChanged(updated);
          })
          .catch((err: unknown) => {
            error.textContent = errorText(err);
            toast(s('actionFailed'), errorText(err));
          })
          .finally(() => { for (const other of buttons.querySelectorAll('button')) other.disabled = false; });
      });
      buttons.append(b);
    }
    if (mode !== 'mine') form.append(reason);
    form.append(error, buttons);
    card.append(form);
  }
  return card;
}

/** A list of request cards, or a line saying there are none. */
export function requestList(list: DataRequest[], mode: CardMode, onChanged: () => void, testid: string): HTMLElement {
  const box = el('div', 'dc-cards');
  box.dataset.testid = testid;
  if (!list.length) box.append(el('p', 'dc-empty', s('noRequests')));
  for (const r of list) box.append(requestCard(r, mode, () => onChanged()));
  return box;
}
