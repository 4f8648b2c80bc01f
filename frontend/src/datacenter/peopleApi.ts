/**
 * The population base's calls (issue 13, helper `access`: backend/people/router.py), typed
 * with the published shapes. Personal values arrive masked or full as the server decided.
 */

import { getJSON } from '../api';

export interface PurposeRef { id: string; zh: string; en: string }

export interface PersonSummary {
  id: number; citizen_id: string | null; name: string | null; sex: string; birth_date: string;
  age: number; status: string; grid_code: string | null; township_code: string | null;
  household_no: string | null;
}

export interface SearchPage { items: PersonSummary[]; total: number; limit: number }

export interface PersonRead {
  id: number; citizen_id: string | null; name: string | null; sex: string; birth_date: string;
  age: number; ethnicity: string | null; phone: string | null; registered_region: string | null;
  registered_address: string | null; address: string | null; address_building: string | null;
  grid_code: string | null; grid_name: string | null; township_code: string | null;
  township_name: string | null; status: string; relation: string | null;
  household: { id: number; household_no: string; members: { id: number; name: string | null; relation: string | null; age: number; sex: string; status: string }[] } | null;
  source: { dataset_id: string; dataset_name: string | null; version_id: number | null; synthetic: boolean };
  version: number; updated_at: string;
  versions: { version: number; valid_from: string; made_by: string; change_id: number | null }[];
  masked: boolean; purpose: PurposeRef | null;
}

export interface AccessLog {
  person_id: number; days: number;
  items: { at: string; actor: string; actor_name: string | null; purpose: string | null; purpose_zh: string | null; purpose_en: string | null; kind: string; fields: string[] }[];
}

const enc = encodeURIComponent;

export const purposes = (): Promise<PurposeRef[]> => getJSON('/api/people/purposes');
export const searchPeople = (q: string, purpose: string): Promise<SearchPage> =>
  getJSON(`/api/people/search?q=${enc(q)}&purpose=${enc(purpose)}`);
export const person = (id: number, purpose: string): Promise<PersonRead> =>
  getJSON(`/api/people/${id}${purpose ? `?purpose=${enc(purpose)}` : ''}`);
export const accessLog = (id: number, days = 90): Promise<AccessLog> =>
  getJSON(`/api/people/${id}/access-log?days=${days}`);
