/**
 * 数据局 · Bureau overview (datasets:govern): the totals, the department ranking (rank, name,
 * total and the five sub-scores, datasets, overdue updates, open tasks, open requests), the
 * overdue updates, and the requests in the bureau's check (pass / refuse with reason; escalate
 * a 不予共享 one), the overdue ones first.
 */

import type { Ctx } from './context';
import { overview as fetchOverview, ranking as fetchRanking, requests } from './dcApi';
import { label, s } from './i18n';
import { requestList } from './requestCard';
import type { DataRequest, OverdueUpdate } from './types';
import { band, el, failure, fmtCount, fmtScore, fmtTime, loadingNode, scoreChip, section, table } from './ui';

export function overdueTable(list: OverdueUpdate[]): HTMLElement {
  if (!list.length) return el('p', 'dc-empty', s('none'));
  return table(['name', 'department', 'updateCycle', 'dueSince'], list.map((o) => {
    const a = el('a', 'dc-link', o.name);
    a.href = `#dataset/${encodeURIComponent(o.dataset_id)}`;
    const due = el('span', 'dc-due dc-due-late', fmtTime(o.due_since));
    return [a, o.department_code, label('update_cycle', o.update_cycle), due];
  }), 'overdue-updates');
}

function stat(value: string, text: string): HTMLElement {
  const node = el('div', 'dc-stat');
  node.append(el('strong', 'dc-stat-v', value), el('span', 'dc-stat-k', text));
  return node;
}

export async function renderBureau(view: HTMLElement, _ctx: Ctx, stale: () => boolean): Promise<void> {
  view.append(loadingNode());
  const [overview, ranking] = await Promise.all([fetchOverview(), fetchRanking()]);
  if (stale()) return;
  view.replaceChildren();
  const stats = el('div', 'dc-stats');
  stats.dataset.testid = 'bureau-stats';
  stats.append(
    stat(fmtCount(overview.departments), s('departments')),
    stat(`${fmtCount(overview.datasets)} / ${fmtCount(overview.with_data)}`, `${s('datasets')} / ${s('withData')}`),
    stat(fmtScore(overview.average), s('average')),
    stat(fmtCount(overview.overdue_updates.length), s('overdueUpdates')),
    stat(fmtCount(overview.open_requests.length), s('openRequests')),
    stat(fmtCount(overview.open_tasks), s('openTasks')),
  );
  view.append(stats);

  const rank = section(s('ranking'), 'ranking');
  const sorted = [...ranking].sort((a, b) => (a.rank ?? 1e9) - (b.rank ?? 1e9));
  rank.body.append(table(['rank', 'name', 'total', label('dimension', 'completeness'), label('dimension', 'validity'),
    label('dimension', 'consistency'), label('dimension', 'timeliness'), label('dimension', 'geometry'), 'datasets',
    'overdueUpdates', 'openTasks', 'openRequests'],
  sorted.map((r) => {
    const a = el('a', 'dc-link', r.name);
    a.href = `#department/${encodeURIComponent(r.code)}`;
    a.dataset.testid = 'ranking-department';
    const sub = (v: number | null): HTMLElement => el('span', `dc-sub dc-text-${band(v)}`, fmtScore(v));
    return [r.rank ?? '—', a, scoreChip(r.total), sub(r.completeness), sub(r.validity), sub(r.consistency),
      sub(r.timeliness), sub(r.geometry), fmtCount(r.datasets), fmtCount(r.overdue_updates), fmtCount(r.open_tasks),
      fmtCount(r.open_requests)];
  }), 'ranking-table'));
  view.append(rank.root);

  const grid = el('div', 'dc-two');
  const reqs = section(s('openRequests'), 'bureau-requests');
  const late = section(s('overdueUpdates'), 'bureau-overdue');
  late.body.append(overdueTable(overview.overdue_updates));
  grid.append(reqs.root, late.root);
  view.append(grid);

  const overdueIds = new Set(overview.overdue_requests.map((r) => r.id));
  const show = (list: DataRequest[]): void => {
    const ordered = [...list].sort((a, b) => Number(overdueIds.has(b.id) || b.overdue) - Number(overdueIds.has(a.id) || a.overdue));
    reqs.body.replaceChildren(requestList(ordered, 'review', () => void reload(), 'review-list'));
  };
  // The overview's open and overdue requests, and the bureau's review box (what it acts on).
  let known = new Map<number, DataRequest>();
  for (const r of [...overview.overdue_requests, ...overview.open_requests]) known.set(r.id, r);
  show([...known.values()]);
  const reload = async (): Promise<void> => {
    try {
      const [box, fresh] = await Promise.all([requests('review'), fetchOverview()]);
      if (stale()) return;
      known = new Map();
      for (const r of [...fresh.overdue_requests, ...fresh.open_requests, ...box]) known.set(r.id, r);
      for (const r of fresh.overdue_requests) overdueIds.add(r.id);
      show([...known.values()]);
    } catch (err) {
      if (!stale()) reqs.body.replaceChildren(failure(err, () => void reload()));
    }
  };
  await reload();
}
