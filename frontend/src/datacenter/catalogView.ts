/**
 * 目录 · Catalog: the departments (41 + the bureau, with their counts) beside the results; a
 * search box (debounced, `GET /api/datasets?q=`), filters (share type, update cycle, has a map
 * layer, class), paging. The query lives in the view's state; each result links to its page.
 */

import type { Ctx } from './context';
import { departments as fetchDepartments, searchDatasets, type DatasetQuery } from './dcApi';
import { getLang, label, named, s, values } from './i18n';
import type { DatasetSummary, Department } from './types';
import {
  badge, el, failingChip, failure, fmtCount, fmtTime, loadingNode, scoreChip, shareBadge, syntheticTag,
} from './ui';

const PAGE = 20;
const DEBOUNCE_MS = 300;

/** The catalog's query, kept across visits of the tab (a dataset page and back). */
const query: DatasetQuery = { q: '', department: '', class_code: '', share_type: '', update_cycle: '', has_layer: '', limit: PAGE, offset: 0 };
let departmentsCache: Department[] | null = null;

function select(name: keyof DatasetQuery, options: [string, string][], testid: string): HTMLSelectElement {
  const node = el('select', 'dc-select');
  node.dataset.testid = testid;
  node.setAttribute('aria-label', options[0]?.[1] ?? name);
  for (const [value, text] of options) {
    const option = el('option', '', text);
    option.value = value;
    node.append(option);
  }
  node.value = String(query[name] ?? '');
  return node;
}

function resultItem(d: DatasetSummary): HTMLElement {
  const item = el('li', 'dc-result');
  item.dataset.testid = 'dataset-result';
  item.dataset.datasetId = d.id;
  const head = el('div', 'dc-result-head');
  const a = el('a', 'dc-result-name', d.name);
  a.href = `#dataset/${encodeURIComponent(d.id)}`;
  a.dataset.testid = 'dataset-link';
  head.append(a);
  if (d.synthetic) head.append(syntheticTag());
  if (d.layer_id) head.append(badge(s('mapLayer'), 'layer'));
  const en = el('div', 'dc-result-en', d.name_en ?? '');
  const meta = el('div', 'dc-result-meta');
  meta.append(
    el('span', 'dc-result-dept', d.department_name),
    shareBadge(d.share_type),
    el('span', 'dc-cycle', label('update_cycle', d.update_cycle)),
    scoreChip(d.score),
    failingChip(d.failing ?? 0),
  );
  if (d.last_updated_at) meta.append(el('span', 'dc-dim', `${s('lastUpdated')} ${fmtTime(d.last_updated_at)}`));
  item.append(head, en, meta);
  return item;
}

/** `search`: a query from the address (`#catalog/TEXT`, e.g. a related resource's code). */
export async function renderCatalog(view: HTMLElement, _ctx: Ctx, stale: () => boolean, search = ''): Promise<void> {
  if (search) {
    query.q = search;
    query.offset = 0;
  }
  const layout = el('div', 'dc-catalog');
  const side = el('aside', 'dc-departments');
  side.dataset.testid = 'departments';
  const results = el('div', 'dc-results');
  layout.append(side, results);
  view.append(layout);

  // Search and filters.
  const bar = el('div', 'dc-searchbar');
  const box = el('input', 'dc-search');
  box.type = 'search';
  box.placeholder = s('search');
  box.setAttribute('aria-label', s('searchLabel'));
  box.dataset.testid = 'catalog-search';
  box.value = query.q ?? '';
  const share = select('share_type', [['', `${s('shareType')}: ${s('any')}`], ...values('share_type').map((v): [string, string] => [v, label('share_type', v)])], 'filter-share');
  const cycle = select('update_cycle', [['', `${s('updateCycle')}: ${s('any')}`], ...values('update_cycle').map((v): [string, string] => [v, label('update_cycle', v)])], 'filter-cycle');
  const layerBox = el('input');
  layerBox.type = 'checkbox';
  layerBox.dataset.testid = 'filter-layer';
  layerBox.checked = query.has_layer === 'true';
  const layerLabel = el('label', 'dc-check');
  layerLabel.append(layerBox, el('span', '', s('hasLayer')));
  const cls = el('input', 'dc-input dc-class');
  cls.placeholder = s('classCode');
  cls.setAttribute('aria-label', s('classCode'));
  cls.dataset.testid = 'filter-class';
  cls.value = query.class_code ?? '';
  bar.append(box, share, cycle, cls, layerLabel);

  const count = el('div', 'dc-count');
  count.dataset.testid = 'result-count';
  count.setAttribute('aria-live', 'polite');
  const list = el('ul', 'dc-result-list');
  list.dataset.testid = 'results';
  const pager = el('div', 'dc-pager');
  results.append(bar, count, list, pager);

  let controller: AbortController | null = null;
  const load = async (): Promise<void> => {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    list.setAttribute('aria-busy', 'true');
    try {
      const page = await searchDatasets(query, mine.signal);
      if (stale() || mine.signal.aborted) return;
      list.replaceChildren(...page.items.map(resultItem));
      if (!page.items.length) list.append(el('li', 'dc-empty', s('noResults')));
      count.textContent = `${fmtCount(page.total)} ${s('results')}`;
      count.dataset.total = String(page.total);
      renderPager(page.total);
      list.dataset.query = query.q ?? '';
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') return;
      if (!stale()) list.replaceChildren(failure(err, () => void load()));
    } finally {
      if (controller === mine) list.removeAttribute('aria-busy');
    }
  };
  const renderPager = (total: number): void => {
    pager.replaceChildren();
    const pages = Math.max(1, Math.ceil(total / PAGE));
    const at = Math.floor(query.offset / PAGE) + 1;
    const prev = el('button', 'dc-button dc-button-small', s('prev'));
    prev.type = 'button';
    prev.disabled = at <= 1;
    prev.dataset.testid = 'page-prev';
    prev.addEventListener('click', () => { query.offset = Math.max(0, query.offset - PAGE); void load(); });
    const next = el('button', 'dc-button dc-button-small', s('next'));
    next.type = 'button';
    next.disabled = at >= pages;
    next.dataset.testid = 'page-next';
    next.addEventListener('click', () => { query.offset += PAGE; void load(); });
    pager.append(prev, el('span', 'dc-dim', `${at} / ${pages}`), next);
  };
  const changed = (): void => {
    query.offset = 0;
    void load();
  };
  let timer = 0;
  box.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      query.q = box.value.trim();
      changed();
    }, DEBOUNCE_MS);
  });
  share.addEventListener('change', () => { query.share_type = share.value; changed(); });
  cycle.addEventListener('change', () => { query.update_cycle = cycle.value; changed(); });
  layerBox.addEventListener('change', () => { query.has_layer = layerBox.checked ? 'true' : ''; changed(); });
  cls.addEventListener('change', () => { query.class_code = cls.value.trim(); changed(); });

  // Departments beside the results.
  const renderDepartments = (list: Department[]): void => {
    side.replaceChildren(el('h2', 'dc-h2', s('departments')));
    const ul = el('ul', 'dc-dept-list');
    const entry = (code: string, text: string, n: number | null, title = ''): HTMLElement => {
      const li = el('li');
      const b = el('button', 'dc-dept', '');
      b.type = 'button';
      b.dataset.testid = 'department-filter';
      b.dataset.code = code;
      if (title) b.title = title;
      b.append(el('span', 'dc-dept-name', text), el('span', 'dc-dept-n', n === null ? '' : String(n)));
      b.setAttribute('aria-pressed', String((query.department ?? '') === code));
      b.addEventListener('click', () => {
        query.department = code;
        for (const other of ul.querySelectorAll('button')) other.setAttribute('aria-pressed', String(other === b));
        changed();
      });
      li.append(b);
      return li;
    };
    const sum = list.reduce((acc, d) => acc + (d.datasets ?? 0), 0);
    ul.append(entry('', s('allDepartments'), sum));
    for (const d of list) {
      const text = getLang() === 'en' ? d.name_en || d.name : d.short_name || d.name;
      ul.append(entry(d.code, text, d.datasets, named(d.name, d.name_en)));
    }
    side.append(ul);
  };
  side.append(loadingNode());
  const departmentsLoad = departmentsCache
    ? Promise.resolve(departmentsCache)
    : fetchDepartments().then((list) => (departmentsCache = list));
  departmentsLoad
    .then((list) => { if (!stale()) renderDepartments(list); })
    .catch((err: unknown) => { if (!stale()) side.replaceChildren(failure(err)); });
  await load();
}
