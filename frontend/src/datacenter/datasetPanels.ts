/**
 * The live panels of a dataset page: quality (each rule: dimension, kind, blocking,
 * checked/failed, passed; failing rules open with their samples and message; a steward of the
 * department or the bureau may run the checks), score (latest sub-scores and a 30-day SVG
 * trend), the changes feed, and a preview of the rows with download links (only when the rows
 * endpoint answers: a grant, the own department, or the bureau).
 */

import { toast } from '../toast';
import { stewardOf, type Ctx } from './context';
import { changes as fetchChanges, downloadUrl, quality as fetchQuality, rows as fetchRows, runQuality, scores as fetchScores } from './dcApi';
import { label, s } from './i18n';
import type { DatasetDetail, Dimension, QualityReport, QualityRule } from './types';
import { trendSvg } from './trend';
import {
  badge, el, errorText, failure, fmtCount, fmtDate, fmtScore, fmtTime, scoreChip, section, table, type Cell,
} from './ui';

const DIMENSIONS: Dimension[] = ['completeness', 'validity', 'consistency', 'timeliness', 'geometry'];
const PREVIEW_ROWS = 20;

function showValue(value: unknown): string {
  if (value === null || value === undefined) return '∅';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function ruleNode(rule: QualityRule): HTMLElement {
  const item = el('details', `dc-rule ${rule.passed ? 'dc-rule-pass' : 'dc-rule-fail'}`);
  item.dataset.testid = 'quality-rule';
  item.dataset.passed = String(rule.passed);
  item.open = !rule.passed;
  const summary = el('summary', 'dc-rule-summary');
  summary.append(
    badge(rule.passed ? s('passed') : s('failed'), rule.passed ? 'pass' : 'fail'),
    el('span', 'dc-rule-dim', label('dimension', rule.dimension)),
    el('code', 'dc-rule-key', rule.rule_key),
    el('span', 'dc-dim', rule.kind),
  );
  if (rule.blocking) summary.append(badge(s('blocking'), 'blocking'));
  summary.append(el('span', 'dc-rule-count', `${fmtCount(rule.failed)} / ${fmtCount(rule.checked)}`));
  item.append(summary);
  if (rule.message) item.append(el('p', 'dc-rule-message', rule.message));
  if (rule.samples?.length) {
    item.append(table(['key', 'value', 'reason'], rule.samples.map((x) => [x.key, showValue(x.value), x.reason]), 'quality-samples'));
  }
  return item;
}

function qualityBody(report: QualityReport, body: HTMLElement): void {
  body.replaceChildren();
  if (!report.run) body.append(el('p', 'dc-empty', s('noRun')));
  else body.append(el('p', 'dc-dim', `${s('lastRun')} ${fmtTime(report.run.finished_at ?? report.run.started_at)} · ${fmtCount(report.run.rows_checked)} ${s('rowsChecked')}`));
  // Failing rules first, then by dimension.
  const order = (r: QualityRule): number => (r.passed ? 100 : 0) + DIMENSIONS.indexOf(r.dimension);
  const list = el('div', 'dc-rules');
  for (const rule of [...report.rules].sort((a, b) => order(a) - order(b))) list.append(ruleNode(rule));
  body.append(list);
}

export async function qualityPanel(d: DatasetDetail, ctx: Ctx, stale: () => boolean): Promise<HTMLElement> {
  const tools: Node[] = [];
  const { root, body } = section(s('quality'), 'quality', ...tools);
  if (stewardOf(ctx, d.department_code) && d.storage !== 'metadata') {
    const run = el('button', 'dc-button dc-button-small', s('runQuality'));
    run.type = 'button';
    run.dataset.testid = 'run-quality';
    run.addEventListener('click', () => {
      run.disabled = true;
      runQuality(d.id)
        .then((report) => { if (report && !stale()) qualityBody(report, body); })
        .catch((err: unknown) => toast(s('actionFailed'), errorText(err)))
        .finally(() => { run.disabled = false; });
    });
    root.querySelector('.dc-section-head')?.append(run);
  }
  try {
    qualityBody(await fetchQuality(d.id), body);
  } catch (err) {
    body.replaceChildren(failure(err));
  }
  return root;
}

export async function scorePanel(d: DatasetDetail, _stale: () => boolean): Promise<HTMLElement> {
  const { root, body } = section(s('scoreTitle'), 'score');
  try {
    const trend = await fetchScores(d.id, 30);
    const latest = trend.latest;
    const top = el('div', 'dc-score-top');
    top.append(el('span', 'dc-score-label', s('total')), scoreChip(latest?.total ?? null));
    if (latest) top.append(el('span', 'dc-dim', fmtDate(latest.day)));
    body.append(top);
    if (latest) {
      const bars = el('div', 'dc-subscores');
      for (const dim of DIMENSIONS) {
        const v = latest[dim];
        const row = el('div', 'dc-subscore');
        const bar = el('span', 'dc-bar');
        const fill = el('span', `dc-bar-fill dc-score-${v === null ? 'none' : ''}`);
        fill.style.width = `${Math.max(0, Math.min(100, Number(fmtScore(v)) || 0))}%`;
        bar.append(fill);
        row.append(el('span', 'dc-subscore-name', label('dimension', dim)), bar, el('span', 'dc-subscore-v', fmtScore(v)));
        bars.append(row);
      }
      body.append(bars);
    }
    if (trend.trend.length) {
      const fig = el('figure', 'dc-trend-box');
      fig.append(trendSvg(trend.trend, s('trend30')), el('figcaption', 'dc-dim', s('trend30')));
      body.append(fig);
    }
  } catch (err) {
    body.append(failure(err));
  }
  return root;
}

export async function changesPanel(d: DatasetDetail, _stale: () => boolean): Promise<HTMLElement> {
  const { root, body } = section(s('changes'), 'changes');
  try {
    const feed = await fetchChanges(d.id, 0);
    const items = [...feed.items].sort((a, b) => b.seq - a.seq).slice(0, 10);
    if (!items.length) body.append(el('p', 'dc-empty', s('noChanges')));
    else body.append(table(['seq', 'createdAt', 'arrival', 'rowsAdded', 'rowsChanged', 'rowsRemoved', 'rowsTotal'],
      items.map((c) => [c.seq, fmtTime(c.at), label('arrival', c.arrival), fmtCount(c.rows_added), fmtCount(c.rows_changed), fmtCount(c.rows_removed), fmtCount(c.rows_total)]),
      'changes-table'));
  } catch (err) {
    body.append(failure(err));
  }
  return root;
}

/** Throws the rows call's error (403: no grant) for the page to decide what to show. */
export async function rowsPanel(d: DatasetDetail): Promise<HTMLElement> {
  const page = await fetchRows(d.id, PREVIEW_ROWS, 0);
  const csv = el('a', 'dc-button dc-button-small', `${s('download')} CSV`);
  csv.href = downloadUrl(d.id, 'csv');
  csv.dataset.testid = 'download-csv';
  csv.setAttribute('download', '');
  const tools: Node[] = [csv];
  if (d.geometry_type) {
    const geo = el('a', 'dc-button dc-button-small', `${s('download')} GeoJSON`);
    geo.href = downloadUrl(d.id, 'geojson');
    geo.dataset.testid = 'download-geojson';
    geo.setAttribute('download', '');
    tools.push(geo);
  }
  const { root, body } = section(`${s('preview')} (${fmtCount(page.items.length)} / ${fmtCount(page.total)})`, 'rows-preview', ...tools);
  // the geometry has its own column (its type), not the field list's raw GeoJSON
  const names = page.fields.map((f) => (typeof f === 'string' ? f : f.name)).filter((n) => n !== 'geometry');
  const heads = names.map((n) => {
    const f = d.fields.find((x) => x.name === n);
    return f ? `${f.name_zh}` : n;
  });
  const hasGeom = page.items.some((r) => r.geometry !== undefined && r.geometry !== null);
  body.append(table(['key', ...heads, ...(hasGeom ? ['geometry'] : [])], page.items.map((r): Cell[] => [
    showValue(r.key),
    ...names.map((n) => showValue(r[n])),
    ...(hasGeom ? [geomText(r.geometry)] : []),
  ]), 'rows-table'));
  return root;
}

function geomText(g: unknown): string {
  if (!g || typeof g !== 'object') return '';
  const type = (g as { type?: unknown }).type;
  return typeof type === 'string' ? type : '…';
}
