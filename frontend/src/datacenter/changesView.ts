/**
 * 变更确认 · Changes to confirm: for population officers (people:confirm), the changes from the
 * field waiting for their department, each with accept / reject (a note is required to
 * reject: the grid worker sees it), and the department's quarantined rows (IDs that failed a
 * check on load) by check.
 */

import { getLang } from '../lang';
import type { Ctx } from './context';
import { decide, pendingChanges, quarantine, type FieldChange } from './changesApi';
import { badge, button, el, errorText, failure, fmtTime, loadingNode, section, table } from './ui';

const TEXT = {
  pending: ['待确认的变更', 'Changes waiting for your department'],
  none: ['没有待确认的变更', 'No changes are waiting'],
  accept: ['确认', 'Accept'],
  reject: ['退回', 'Reject'],
  note: ['意见（退回时必填）', 'Note (required to reject)'],
  noteNeeded: ['退回须填写意见，告诉网格员要改什么', 'A rejection needs a note telling the grid worker what to fix'],
  done: ['已处理', 'Decided'],
  quarantine: ['隔离区：未通过校验的记录', 'Quarantine: rows that failed a check'],
  noQuarantine: ['本部门没有被隔离的记录', 'No quarantined rows for your department'],
  noRoute: ['隔离区尚未开通', 'The quarantine is not available on this server yet'],
  reporter: ['上报人', 'Reporter'],
  visit: ['走访', 'Visit'],
  move_in: ['迁入', 'Moved in'],
  move_out: ['迁出', 'Moved out'],
  correction: ['更正', 'Correction'],
  death: ['死亡', 'Death'],
  dataset: ['数据集', 'Dataset'],
  key: ['记录', 'Row'],
  check: ['未通过', 'Check'],
  reason: ['原因', 'Reason'],
  at: ['时间', 'When'],
} as const;

function tx(key: keyof typeof TEXT): string {
  return TEXT[key][getLang() === 'en' ? 1 : 0];
}

/** The checks a quarantined row failed (backend/people/models.py CHECKS). */
const CHECKS: Record<string, [string, string]> = {
  format: ['格式', 'Format'], check_digit: ['校验码', 'Check digit'],
  birth_date: ['出生日期', 'Birth date'], region: ['行政区划代码', 'Region code'],
  sex: ['性别位', 'Sex digit'], duplicate: ['重复', 'Duplicate'], missing: ['缺项', 'Missing'],
};

function checkName(code: string): string {
  return CHECKS[code]?.[getLang() === 'en' ? 1 : 0] ?? code;
}

function kindLabel(kind: string): string {
  return kind in TEXT ? tx(kind as keyof typeof TEXT) : kind;
}

function payloadText(c: FieldChange): string {
  return Object.entries(c.payload)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(' · ');
}

function card(c: FieldChange, reload: () => void): HTMLElement {
  const root = el('article', 'dc-card dc-change');
  root.dataset.testid = 'change';
  root.dataset.id = String(c.id);
  const head = el('div', 'dc-card-head');
  head.append(badge(kindLabel(c.kind), 'status'), el('strong', '', [c.person_name, c.household_no].filter(Boolean).join(' · ')),
    el('span', 'dc-dim', `${c.grid_code} · ${tx('reporter')} ${c.reported_by} · ${fmtTime(c.reported_at)}`));
  const note = el('textarea', 'dc-input dc-textarea');
  note.rows = 2;
  note.placeholder = tx('note');
  note.dataset.testid = 'decision-note';
  const error = el('div', 'dc-form-error');
  const act = async (decision: 'accept' | 'reject'): Promise<void> => {
    if (decision === 'reject' && !note.value.trim()) {
      error.textContent = tx('noteNeeded');
      return;
    }
    error.textContent = '';
    try {
      await decide(c.id, decision, note.value.trim());
      root.replaceChildren(el('p', 'dc-dim', `${tx('done')}: ${kindLabel(c.kind)} · ${decision === 'accept' ? tx('accept') : tx('reject')}`));
      reload();
    } catch (err) {
      error.textContent = errorText(err);
    }
  };
  const accept = button('dc-button dc-button-primary', tx('accept'), () => void act('accept'));
  accept.dataset.testid = 'accept';
  const reject = button('dc-button dc-button-danger', tx('reject'), () => void act('reject'));
  reject.dataset.testid = 'reject';
  const actions = el('div', 'dc-actions');
  const form = el('div', 'dc-card-actions');
  actions.append(accept, reject);
  form.append(note, error, actions);
  root.append(head, el('p', '', payloadText(c)), c.note ? el('p', 'dc-dim', c.note) : '', form);
  return root;
}

export async function renderChanges(view: HTMLElement, _ctx: Ctx, stale: () => boolean): Promise<void> {
  const pending = section(tx('pending'), 'pending-changes');
  const held = section(tx('quarantine'), 'quarantine');
  view.append(pending.root, held.root);
  const load = async (): Promise<void> => {
    pending.body.replaceChildren(loadingNode());
    try {
      const list = await pendingChanges();
      if (stale()) return;
      const cards = list.map((c) => card(c, () => undefined));
      pending.body.replaceChildren(...(cards.length ? cards : [el('p', 'dc-empty', tx('none'))]));
    } catch (err) {
      if (!stale()) pending.body.replaceChildren(failure(err, () => void load()));
    }
  };
  const loadQuarantine = async (): Promise<void> => {
    held.body.replaceChildren(loadingNode());
    try {
      const page = await quarantine();
      if (stale()) return;
      if (!page) {
        held.body.replaceChildren(el('p', 'dc-empty', tx('noRoute')));
        return;
      }
      if (!page.items.length) {
        held.body.replaceChildren(el('p', 'dc-empty', tx('noQuarantine')));
        return;
      }
      const counts = el('p', 'dc-dim', Object.entries(page.by_check).map(([k, n]) => `${checkName(k)}: ${n}`).join(' · '));
      held.body.replaceChildren(counts, table([tx('dataset'), tx('key'), tx('check'), tx('reason'), tx('at')],
        page.items.map((r) => [r.dataset_id, r.row_key, badge(checkName(r.check_failed), 'fail'), r.reason, fmtTime(r.created_at)]), 'quarantine-table'));
    } catch (err) {
      if (!stale()) held.body.replaceChildren(failure(err, () => void loadQuarantine()));
    }
  };
  await Promise.all([load(), loadQuarantine()]);
}
