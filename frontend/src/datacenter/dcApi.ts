/**
 * The data center's calls, one function per endpoint of issue 12's published API, typed with
 * ./types. Everything goes through ../api (same-origin, session cookie, ApiError with the
 * server's `detail`).
 */

import { ApiError, apiFetch, getJSON, postJSON, reportUnauthorized } from '../api';
import type {
  Changes, DataRequest, DatasetDetail, DatasetPage, Department, DepartmentPage, Me, Overview,
  QualityReport, RankingRow, RowsPage, ScoreTrend, Subscription, Task, Version,
} from './types';

const enc = encodeURIComponent;

export interface DatasetQuery {
  q?: string;
  department?: string;
  class_code?: string;
  share_type?: string;
  update_cycle?: string;
  has_layer?: '' | 'true' | 'false';
  limit: number;
  offset: number;
}

export function searchDatasets(query: DatasetQuery, signal?: AbortSignal): Promise<DatasetPage> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  return getJSON<DatasetPage>(`/api/datasets?${params}`, signal ? { signal } : {});
}

export const departments = (): Promise<Department[]> => getJSON('/api/catalog/departments');
export const me = async (): Promise<Me> => (await getJSON<{ user: Me }>('/api/auth/me')).user;
export const dataset = (id: string): Promise<DatasetDetail> => getJSON(`/api/datasets/${enc(id)}`);
export const versions = (id: string): Promise<Version[]> => getJSON(`/api/datasets/${enc(id)}/versions`);
export const quality = (id: string): Promise<QualityReport> => getJSON(`/api/datasets/${enc(id)}/quality`);
export const runQuality = async (id: string): Promise<QualityReport | null> =>
  postJSON<QualityReport>(`/api/datasets/${enc(id)}/quality/run`);
export const scores = (id: string, days = 30): Promise<ScoreTrend> =>
  getJSON(`/api/datasets/${enc(id)}/scores?days=${days}`);
export const changes = (id: string, since = 0): Promise<Changes> =>
  getJSON(`/api/datasets/${enc(id)}/changes?since=${since}`);
export const dataAccess = (id: string): Promise<{ may_read: boolean; why: string; fields: string[] | null }> =>
  getJSON(`/api/datasets/${enc(id)}/access`);
export const rows = (id: string, limit = 20, offset = 0): Promise<RowsPage> =>
  getJSON(`/api/datasets/${enc(id)}/rows?limit=${limit}&offset=${offset}`);
export const downloadUrl = (id: string, format: 'csv' | 'geojson'): string =>
  `/api/datasets/${enc(id)}/download?format=${format}`;
export const makeCurrent = (id: string, versionId: number): Promise<Version | null> =>
  postJSON<Version>(`/api/datasets/${enc(id)}/current`, { version_id: versionId });

export const ranking = (): Promise<RankingRow[]> => getJSON('/api/governance/ranking');
export const overview = (): Promise<Overview> => getJSON('/api/governance/overview');
export const departmentPage = (code: string): Promise<DepartmentPage> =>
  getJSON(`/api/governance/departments/${enc(code)}`);
export const tasks = (department: string, status = 'open'): Promise<Task[]> =>
  getJSON(`/api/quality/tasks?department=${enc(department)}&status=${enc(status)}`);
export const closeTask = (id: number, status: 'fixed' | 'dismissed', note: string): Promise<Task | null> =>
  postJSON<Task>(`/api/quality/tasks/${id}`, { status, note });

export interface RequestBody {
  purpose: string;
  fields: string[];
  period_days: number;
}

export const requestData = (id: string, body: RequestBody): Promise<DataRequest | null> =>
  postJSON<DataRequest>(`/api/datasets/${enc(id)}/requests`, body);
export const requests = (box: 'mine' | 'review' | 'answer'): Promise<DataRequest[]> =>
  getJSON(`/api/requests?box=${box}`);
export type RequestAction = 'review' | 'answer' | 'escalate' | 'withdraw';
export const actOnRequest = (id: number, action: RequestAction, body?: Record<string, string>): Promise<DataRequest | null> =>
  postJSON<DataRequest>(`/api/requests/${id}/${action}`, body ?? {});

export const subscriptions = (): Promise<Subscription[]> => getJSON('/api/subscriptions');
export async function setSubscribed(id: string, on: boolean): Promise<void> {
  await apiFetch(`/api/datasets/${enc(id)}/subscription`, { method: on ? 'PUT' : 'DELETE' });
}

/** The outcome of an upload: accepted (201, the version) or refused (422, detail + report). */
export type UploadOutcome =
  | { ok: true; version: Version }
  | { ok: false; status: number; detail: string; report: Version['report'] | null };

/** POST .../upload with the file as multipart `file`; a 422's body is read for its report. */
export async function upload(id: string, file: File): Promise<UploadOutcome> {
  const form = new FormData();
  form.append('file', file, file.name);
  const url = `/api/datasets/${enc(id)}/upload`;
  const response = await fetch(url, { method: 'POST', body: form, credentials: 'same-origin', headers: { Accept: 'application/json' } });
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.ok) return { ok: true, version: body as Version };
  const b = (body ?? {}) as { detail?: unknown; report?: Version['report'] };
  // FastAPI may nest the refusal's body in `detail` ({detail: {detail, report}}).
  const nested = b.detail && typeof b.detail === 'object' && !Array.isArray(b.detail)
    ? (b.detail as { detail?: unknown; report?: Version['report'] }) : null;
  const detail = typeof b.detail === 'string' ? b.detail
    : nested && typeof nested.detail === 'string' ? nested.detail
      : Array.isArray(b.detail) ? JSON.stringify(b.detail) : `HTTP ${response.status}`;
  if (response.status === 401) {
    reportUnauthorized();
    throw new ApiError(401, detail, url, detail);
  }
  return { ok: false, status: response.status, detail, report: b.report ?? nested?.report ?? null };
}
