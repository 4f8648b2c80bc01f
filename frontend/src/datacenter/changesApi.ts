/**
 * The confirmation desk's calls (issue 13's published API): the department's pending changes
 * from the field, a decision, and the department's quarantined rows. The quarantine route is
 * the `load` helper's: until it exists (404) the desk shows an empty state.
 */

import { getJSON, isStatus, postJSON } from '../api';

export interface FieldChange {
  id: number;
  kind: 'visit' | 'move_in' | 'move_out' | 'correction' | 'death' | string;
  status: string;
  grid_code: string;
  person_id: number | null;
  person_name: string | null;
  household_id: number | null;
  household_no: string | null;
  payload: Record<string, unknown>;
  note: string | null;
  department_code: string;
  reported_by: string;
  reported_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_note: string | null;
  person_version: number | null;
}

export interface QuarantineRow {
  id: number;
  dataset_id: string;
  version_id: number | null;
  row_key: string | null;
  check_failed: string;
  reason: string;
  created_at: string;
}

export interface QuarantinePage {
  items: QuarantineRow[];
  total: number;
  by_check: Record<string, number>;
}

export const pendingChanges = (): Promise<FieldChange[]> => getJSON('/api/people/changes?status=pending');

export async function decide(id: number, decision: 'accept' | 'reject', note: string): Promise<FieldChange | null> {
  return postJSON<FieldChange>(`/api/people/changes/${id}/decision`, { decision, ...(note ? { note } : {}) });
}

/** The department's quarantine, or null when this server has no such route yet. */
export async function quarantine(limit = 50): Promise<QuarantinePage | null> {
  try {
    return await getJSON<QuarantinePage>(`/api/people/quarantine?limit=${limit}&offset=0`);
  } catch (err) {
    if (isStatus(err, 404)) return null;
    throw err;
  }
}
