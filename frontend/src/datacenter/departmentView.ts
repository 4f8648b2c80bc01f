/**
 * 本部门 · Department page (`#department/CODE`): a steward's own department (from
 * /api/auth/me), any department for the bureau. Score and rank, the datasets with score and
 * failing checks (and an upload per dataset held by the platform, for the department's own
 * steward), the requests to answer with their time limit (approve / refuse with reason), the
 * quality tasks with due dates (fixed / dismissed), and the overdue updates.
 */

import { toast } from '../toast';
import { bureauDepartmentPicker } from './departmentPicker';
import { overdueTable } from './bureauView';
import { CAN, ownSteward, type Ctx } from './context';
import { closeTask, departmentPage } from './dcApi';
import { label, s } from './i18n';
import { requestList } from './requestCard';
import type { DepartmentPage, Task } from './types';
import { uploadControl } from './uploadForm';
import {
  badge, datasetLink, dueNode, el, errorText, failingChip, fmtCount, fmtDate, fmtScore, fmtTime, loadingNode, scoreChip,
  section, shareBadge, syntheticTag, table,
} from './ui';

function taskActions(task: Task, reload: () => void): HTMLElement {
  const box = el('div', 'dc-task-actions');
  const note = el('input', 'dc-input dc-input-small');
  note.placeholder = s('description');
  note.setAttribute('aria-label', s('description'));
  note.dataset.testid = 'task-note';
  const act = (status: 'fixed' | 'dismissed', text: string): HTMLButtonElement => {
    const b = el('button', 'dc-button dc-button-small', text);
    b.type = 'button';
    b.dataset.testid = `task-${status}`;
    b.addEventListener('click', () => {
      b.disabled = true;
      closeTask(task.id, status, note.value.trim())
        .then(() => { toast(s('done'), `${task.dataset_name} · ${task.rule_key}`, { kind: 'info' }); reload(); })
        .catch((err: unknown) => { toast(s('actionFailed'), errorText(err)); b.disabled = false; });
    });
    return b;
  };
  box.append(note, act('fixed', s('markFixed')), act('dismissed', s('dismiss')));
  return box;
}

function render(view: HTMLElement, ctx: Ctx, page: DepartmentPage, reload: () => void): void {
  const own = ownSteward(ctx, page.code);
  const head = el('div', 'dc-dataset-head');
  const title = el('h1', 'dc-h1', page.name);
  title.dataset.testid = 'department-name';
  const tags = el('div', 'dc-tags');
  tags.append(el('span', 'dc-dim', page.code), scoreChip(page.score?.total ?? null));
  if (page.rank !== null && page.rank !== undefined) {
    const r = badge(`${s('rank')} ${page.rank}`, 'rank');
    r.dataset.testid = 'department-rank';
    tags.append(r);
  }
  if (page.score) {
    for (const dim of ['completeness', 'validity', 'consistency', 'timeliness', 'geometry'] as const) {
      tags.append(el('span', 'dc-dim', `${label('dimension', dim)} ${fmtScore(page.score[dim])}`));
    }
  }
  head.append(title, tags);
  if (ctx.can(CAN.govern)) head.append(bureauDepartmentPicker(page.code));
  view.append(head);

  const outcome = el('div', 'dc-upload-slot');
  outcome.dataset.testid = 'upload-slot';
  const ds = section(`${s('datasets')} (${page.datasets.length})`, 'department-datasets');
  ds.body.append(table(['name', 'shareType', 'updateCycle', 'score', 'failingHead', 'lastUpdated', ...(own ? ['upload'] as const : [])],
    page.datasets.map((d) => {
      const name = el('span', 'dc-name-cell');
      name.append(datasetLink(d));
      if (d.synthetic) name.append(' ', syntheticTag());
      const cells = [name, shareBadge(d.share_type), label('update_cycle', d.update_cycle), scoreChip(d.score), failingChip(d.failing ?? 0), fmtTime(d.last_updated_at)];
      if (own) {
        // a metadata-only entry is collected (归集) by its first upload
        cells.push(d.storage !== 'layer'
          ? uploadControl(d, (node, accepted) => {
            outcome.replaceChildren(node);
            node.scrollIntoView({ block: 'nearest' });
            if (accepted) toast(s('uploaded'), d.name, { kind: 'info' });
          })
          : el('span', 'dc-dim', label('storage', d.storage)));
      }
      return cells;
    }), 'department-datasets-table'));
  view.append(outcome, ds.root);

  const grid = el('div', 'dc-two');
  const reqs = section(`${s('requestsToAnswer')} (${page.requests_to_answer.length})`, 'requests-to-answer');
  reqs.body.append(requestList(page.requests_to_answer, own ? 'answer' : 'view', reload, 'answer-list'));
  const tasks = section(`${s('tasks')} (${page.tasks.length})`, 'tasks');
  if (!page.tasks.length) tasks.body.append(el('p', 'dc-empty', s('none')));
  else tasks.body.append(table(['dataset', 'ruleKind', 'failed', 'createdAt', 'due', 'status', ...(own ? [''] : [])],
    page.tasks.map((t) => {
      const a = el('a', 'dc-link', t.dataset_name);
      a.href = `#dataset/${encodeURIComponent(t.dataset_id)}`;
      const rule = el('span', '');
      rule.append(el('code', '', t.rule_key), el('span', 'dc-dim', ` ${t.kind}`));
      const cells = [a, rule, fmtCount(t.failed), fmtDate(t.opened_at), t.status === 'open' ? dueNode(t.due_at, t.overdue) : fmtTime(t.closed_at), label('task_status', t.status)];
      if (own) cells.push(t.status === 'open' ? taskActions(t, reload) : (t.note ?? ''));
      return cells;
    }), 'tasks-table'));
  grid.append(reqs.root, tasks.root);
  view.append(grid);

  const late = section(`${s('overdueUpdates')} (${page.overdue_updates.length})`, 'department-overdue');
  late.body.append(overdueTable(page.overdue_updates));
  view.append(late.root);
}

export async function renderDepartment(view: HTMLElement, ctx: Ctx, code: string, stale: () => boolean): Promise<void> {
  const target = code || (ctx.can(CAN.steward) ? ctx.me.department ?? '' : '');
  if (!target) {
    if (ctx.can(CAN.govern)) {
      view.append(el('h1', 'dc-h1', s('chooseDepartment')), bureauDepartmentPicker(''));
    } else view.append(el('p', 'dc-empty', s('noDepartment')));
    return;
  }
  const load = async (): Promise<void> => {
    view.replaceChildren(loadingNode());
    const page = await departmentPage(target);
    if (stale()) return;
    view.replaceChildren();
    view.dataset.department = page.code;
    render(view, ctx, page, () => void load().catch((err: unknown) => toast(s('loadFailed'), errorText(err))));
  };
  await load();
}
