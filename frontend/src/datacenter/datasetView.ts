/**
 * A dataset's page (`#dataset/ID`): the head (name, badges, the request button, the subscribe
 * toggle, the map link), metadata, fields (信息项), versions (a steward of the department may
 * make another accepted version current), then the panels of ./datasetPanels (quality, score,
 * changes, rows). A live notice of this dataset reloads the versions and panels.
 */

import { isStatus } from '../api';
import { PanelPrefs } from '../prefs';
import { toast } from '../toast';
import { ownSteward, CAN, type Ctx } from './context';
import { changesPanel, qualityPanel, rowsPanel, scorePanel } from './datasetPanels';
import { dataAccess, dataset as fetchDataset, makeCurrent, setSubscribed, versions as fetchVersions } from './dcApi';
import { label, s, sf } from './i18n';
import { requestForm } from './requestForm';
import type { DatasetDetail, Version } from './types';
import {
  badge, el, errorText, facts, failingChip, failure, fmtCount, fmtDate, fmtTime, loadingNode, scoreChip,
  section, shareBadge, syntheticTag, table, type Cell,
} from './ui';

function head(d: DatasetDetail, ctx: Ctx, onRequest: () => void): HTMLElement {
  const root = el('div', 'dc-dataset-head');
  const back = el('a', 'dc-back', `← ${s('backToCatalog')}`);
  back.href = '#catalog';
  const title = el('h1', 'dc-h1', d.name);
  title.dataset.testid = 'dataset-name';
  const en = el('div', 'dc-subtitle', d.name_en ?? '');
  const tags = el('div', 'dc-tags');
  tags.append(shareBadge(d.share_type), el('span', 'dc-cycle', label('update_cycle', d.update_cycle)), scoreChip(d.score), failingChip(d.failing ?? 0));
  if (d.synthetic) tags.append(syntheticTag());
  const tools = el('div', 'dc-head-tools');
  if (ctx.can(CAN.request)) {
    const request = el('button', 'dc-button dc-button-primary', s('request'));
    request.type = 'button';
    request.dataset.testid = 'request-button';
    request.addEventListener('click', onRequest);
    tools.append(request, subscribeToggle(d, ctx));
  }
  if (d.layer_id) {
    // The console restores each user's visible layers (../prefs): switch this one on there,
    // then open the console; `#layer=` names it for a console that reads it.
    const map = el('a', 'dc-button', s('openOnMap'));
    map.href = `./#layer=${encodeURIComponent(d.layer_id)}`;
    map.dataset.testid = 'map-link';
    map.addEventListener('click', () => new PanelPrefs(ctx.me.username).setVisible(d.layer_id ?? '', true));
    tools.append(map);
  }
  root.append(back, title, en, tags, tools);
  return root;
}

function subscribeToggle(d: DatasetDetail, ctx: Ctx): HTMLElement {
  const toggle = el('button', 'dc-button dc-toggle');
  toggle.type = 'button';
  toggle.dataset.testid = 'subscribe-toggle';
  toggle.title = s('subscribeTitle');
  const paint = (): void => {
    const on = ctx.subscriptions.has(d.id);
    toggle.setAttribute('aria-pressed', String(on));
    toggle.textContent = on ? `✓ ${s('subscribed')}` : s('subscribe');
  };
  paint();
  toggle.addEventListener('click', () => {
    const on = !ctx.subscriptions.has(d.id);
    toggle.disabled = true;
    setSubscribed(d.id, on)
      .then(() => {
        if (on) ctx.subscriptions.add(d.id);
        else ctx.subscriptions.delete(d.id);
        paint();
      })
      .catch((err: unknown) => toast(s('actionFailed'), errorText(err)))
      .finally(() => { toggle.disabled = false; });
  });
  return toggle;
}

function metadata(d: DatasetDetail): HTMLElement {
  const { root, body } = section(s('metadata'), 'metadata');
  const classification = [d.class_code, d.item_code, d.entry_code, d.detail_code].filter(Boolean).join(' / ');
  const related: Cell = d.related?.length
    ? (() => {
      const span = el('span', 'dc-related');
      for (const code of d.related) {
        const a = el('a', 'dc-link', code);
        // Related resources are named by resource code: the catalog search finds them.
        a.href = `#catalog/${encodeURIComponent(code)}`;
        a.dataset.testid = 'related-link';
        span.append(a, ' ');
      }
      return span;
    })()
    : null;
  body.append(facts([
    ['resourceCode', d.resource_code],
    ['department', `${d.department_name} (${d.department_code})`],
    ['summary', d.summary],
    ['classification', classification],
    ['format', d.resource_format],
    ['shareType', label('share_type', d.share_type)],
    ['shareCondition', d.share_condition],
    ['shareMethod', d.share_method],
    ['openType', label('open_type', d.open_type)],
    ['updateCycle', label('update_cycle', d.update_cycle)],
    ['publishedOn', fmtDate(d.published_on)],
    ['lastUpdated', fmtTime(d.last_updated_at)],
    ['related', related],
    ['keywords', d.keywords?.join('、') || null],
    ['storage', `${label('storage', d.storage)}${d.geometry_type ? ` · ${label('geometry_type', d.geometry_type)}` : ''}`],
    ['annexNo', d.annex_no],
  ]));
  return root;
}

function fields(d: DatasetDetail): HTMLElement {
  const { root, body } = section(`${s('fields')} (${d.fields.length})`, 'fields');
  body.append(table(['fieldName', 'fieldZh', 'fieldType', 'required', 'personal', 'authority', 'link', 'description'],
    d.fields.map((f) => [
      f.name === d.key_field ? (() => { const n = el('span', '', `${f.name} `); n.append(badge(s('key'), 'key')); return n; })() : f.name,
      f.name_zh,
      f.data_type,
      f.required ? '✓' : '',
      f.kind ? badge(f.kind, 'personal', s('personal')) : '',
      f.authority,
      f.link ? (() => { const a = el('a', 'dc-link', f.link ?? ''); a.href = `#dataset/${encodeURIComponent(f.link ?? '')}`; return a; })() : '',
      f.description,
    ]), 'fields-table'));
  return root;
}

function versionsSection(d: DatasetDetail, ctx: Ctx, list: Version[], reload: () => void): HTMLElement {
  const { root, body } = section(`${s('versions')} (${list.length})`, 'versions');
  const mayRollBack = ownSteward(ctx, d.department_code);
  body.append(table(['seq', 'status', 'arrival', 'mode', 'source', 'createdAt', 'createdBy', 'rowsTotal', 'rowsAdded', 'rowsChanged', 'rowsRemoved', 'rowsRejected', 'current'],
    list.map((v) => {
      let current: Cell = v.current ? badge(s('current'), 'current') : '';
      if (!v.current && mayRollBack && v.status === 'accepted') {
        const b = el('button', 'dc-button dc-button-small', s('makeCurrent'));
        b.type = 'button';
        b.dataset.testid = 'make-current';
        b.addEventListener('click', () => {
          if (!window.confirm(sf('rollbackConfirm', v.seq ?? v.id))) return;
          b.disabled = true;
          makeCurrent(d.id, v.id)
            .then(() => { toast(s('rolledBack'), `#${v.seq}`, { kind: 'info' }); reload(); })
            .catch((err: unknown) => { toast(s('actionFailed'), errorText(err)); b.disabled = false; });
        });
        current = b;
      }
      return [v.seq ?? '—', badge(label('version_status', v.status), `status-${v.status}`), label('arrival', v.arrival), label('mode', v.mode), v.source,
        fmtTime(v.created_at), v.created_by, fmtCount(v.rows_total), fmtCount(v.rows_added), fmtCount(v.rows_changed),
        fmtCount(v.rows_removed), fmtCount(v.rows_rejected), current];
    }), 'versions-table'));
  if (!list.length) body.append(el('p', 'dc-empty', s('none')));
  return root;
}

export async function renderDataset(view: HTMLElement, ctx: Ctx, id: string, stale: () => boolean): Promise<void> {
  view.append(loadingNode());
  const d = await fetchDataset(id);
  if (stale()) return;
  view.replaceChildren();
  view.dataset.datasetId = d.id;
  const formSlot = el('div', 'dc-form-slot');
  const openForm = (): void => {
    if (formSlot.firstChild) return;
    formSlot.append(requestForm(d, () => formSlot.replaceChildren(), () => formSlot.replaceChildren()));
    formSlot.querySelector<HTMLTextAreaElement>('textarea')?.focus();
  };
  view.append(head(d, ctx, openForm), formSlot);

  const grid = el('div', 'dc-dataset-grid');
  const left = el('div', 'dc-col');
  const right = el('div', 'dc-col');
  grid.append(left, right);
  view.append(grid);
  left.append(metadata(d), fields(d));
  const versionSlot = el('div');
  const scoreSlot = el('div');
  const qualitySlot = el('div');
  const changesSlot = el('div');
  const rowsSlot = el('div');
  right.append(scoreSlot, qualitySlot, changesSlot);
  left.append(versionSlot);
  view.append(rowsSlot);

  const loadVersions = async (): Promise<void> => {
    try {
      const list = await fetchVersions(d.id);
      if (!stale()) versionSlot.replaceChildren(versionsSection(d, ctx, list, () => void refresh()));
    } catch (err) {
      if (!stale()) versionSlot.replaceChildren(failure(err, () => void loadVersions()));
    }
  };
  const noAccess = (): void => {
    if (d.storage !== 'metadata' && ctx.can(CAN.request)) {
      const { root, body } = section(s('preview'), 'rows-preview');
      body.append(el('p', 'dc-note', s('noAccess')));
      rowsSlot.replaceChildren(root);
    } else rowsSlot.replaceChildren();
  };
  const loadRows = async (): Promise<void> => {
    try {
      // asked first, so that a caller without a grant sees a hint, not a refused request
      if (!(await dataAccess(d.id)).may_read) {
        if (!stale()) noAccess();
        return;
      }
      rowsSlot.replaceChildren(await rowsPanel(d));
    } catch (err) {
      // 403/404: no rows here (a layer, a catalogue entry): a hint, not an error.
      if (stale()) return;
      if (isStatus(err, 403, 404, 409)) noAccess();
      else rowsSlot.replaceChildren(failure(err, () => void loadRows()));
    }
  };
  const refresh = async (): Promise<void> => {
    await Promise.all([
      loadVersions(),
      scorePanel(d, stale).then((node) => { if (!stale()) scoreSlot.replaceChildren(node); }),
      qualityPanel(d, ctx, stale).then((node) => { if (!stale()) qualitySlot.replaceChildren(node); }),
      changesPanel(d, stale).then((node) => { if (!stale()) changesSlot.replaceChildren(node); }),
      d.storage === 'metadata' ? Promise.resolve() : loadRows(),
    ]);
  };
  ctx.onDatasetUpdate((changed) => {
    if (changed === d.id && !stale()) void refresh();
  });
  await refresh();
}
