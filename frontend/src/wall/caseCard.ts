/** A case on the wall, read only: a small card over the map (no actions: the wall dispatches
 *  nothing). The desk's detail panel carries the action forms, so the wall has its own card. */

import { stateName } from '../desk/names';
import type { Incident } from '../desk/types';
import { el } from '../dom';
import { w } from './text';

export function caseCard(host: HTMLElement, incident: Incident): HTMLElement {
  host.querySelector('.wall-case-card')?.remove();
  const card = el('aside', 'wall-case-card');
  card.dataset.testid = 'wall-case-card';
  const head = el('header', 'wall-case-head');
  const close = el('button', 'wall-chip-x', '×');
  close.type = 'button';
  close.title = w('close');
  close.addEventListener('click', () => card.remove());
  head.append(el('h3', '', `${w('caseCard')} · ${incident.case_no}`), close);
  const rows: [string, string][] = [
    ['类别 / Category', incident.category_name ?? incident.category_code],
    ['状态 / State', stateName(incident.state)],
    ['地点 / Place', [incident.township_name, incident.community, incident.address].filter(Boolean).join(' ')],
    ['部门 / Department', incident.department_name ?? ''],
    ['上报 / Reported', new Date(incident.reported_at).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false })],
    ['描述 / Description', incident.description],
  ];
  const list = el('dl', 'wall-case-fields');
  for (const [k, v] of rows) if (v) list.append(el('dt', '', k), el('dd', '', v));
  card.append(head, list);
  host.append(card);
  return card;
}
