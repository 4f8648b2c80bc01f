/**
 * A dataset's upload control on the department page (a file input per dataset) and the outcome
 * of an upload: the accepted version's counts, or the refusal's message, and in both cases the
 * report's rejected rows as a table of row / field / value / reason.
 */

import { upload, type UploadOutcome } from './dcApi';
import { named, s } from './i18n';
import type { DatasetSummary, ReportRow, VersionReport } from './types';
import { badge, el, errorText, fmtCount, section, table, type Cell } from './ui';

const ACCEPT = '.csv,.xlsx,.geojson,.json,.gpkg,.zip';

function reportRows(report: VersionReport | null | undefined): ReportRow[] {
  if (!report) return [];
  for (const key of ['rejected', 'rows', 'errors', 'rejections'] as const) {
    const list = (report as Record<string, unknown>)[key];
    if (Array.isArray(list)) return list as ReportRow[];
  }
  return [];
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The outcome of an upload as a section. */
export function outcomeNode(d: DatasetSummary, outcome: UploadOutcome): HTMLElement {
  const { root, body } = section(`${s('upload')} · ${named(d.name, d.name_en)}`, 'upload-outcome');
  root.dataset.outcome = outcome.ok ? 'accepted' : 'refused';
  const report = outcome.ok ? outcome.version.report : outcome.report;
  if (outcome.ok) {
    const v = outcome.version;
    const line = el('p', 'dc-note dc-note-ok');
    line.append(badge(s('uploaded'), 'pass'), ` #${v.seq ?? '—'} · ${s('rowsTotal')} ${fmtCount(v.rows_total)} · ${s('rowsAdded')} ${fmtCount(v.rows_added)} · ${s('rowsChanged')} ${fmtCount(v.rows_changed)} · ${s('rowsRemoved')} ${fmtCount(v.rows_removed)} · ${s('rowsRejected')} ${fmtCount(v.rows_rejected)}`);
    body.append(line);
  } else {
    const line = el('p', 'dc-note dc-note-bad');
    line.setAttribute('role', 'alert');
    line.append(badge(s('uploadRefused'), 'fail'), ` ${outcome.detail}`);
    body.append(line);
  }
  const rows = reportRows(report);
  if (rows.length) {
    body.append(el('h3', 'dc-h3', `${s('rejectedRows')} (${rows.length})`));
    body.append(table(['row', 'field', 'value', 'reason'], rows.slice(0, 200).map((r): Cell[] => [
      show(r.row ?? r.line ?? r.key), show(r.field ?? r.column), show(r.value), show(r.reason ?? r.message),
    ]), 'upload-report'));
  } else if (report && !outcome.ok) {
    // A report of another shape (e.g. failing blocking rules): shown as it came.
    const pre = el('pre', 'dc-pre', JSON.stringify(report, null, 1).slice(0, 4000));
    body.append(pre);
  }
  return root;
}

/** A file input that uploads as soon as a file is chosen; `done` gets the outcome's node. */
export function uploadControl(d: DatasetSummary, done: (node: HTMLElement, accepted: boolean) => void): HTMLElement {
  const wrap = el('label', 'dc-button dc-button-small dc-upload');
  wrap.title = s('uploadHint');
  const input = el('input', 'dc-file');
  input.type = 'file';
  input.accept = ACCEPT;
  input.dataset.testid = 'upload-input';
  input.dataset.datasetId = d.id;
  const text = el('span', '', s('upload'));
  wrap.append(text, input);
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (!file) return;
    input.disabled = true;
    text.textContent = s('uploading');
    upload(d.id, file)
      .then((outcome) => done(outcomeNode(d, outcome), outcome.ok))
      .catch((err: unknown) => done(outcomeNode(d, { ok: false, status: 0, detail: errorText(err), report: null }), false))
      .finally(() => {
        input.disabled = false;
        input.value = '';
        text.textContent = s('upload');
      });
  });
  return wrap;
}
