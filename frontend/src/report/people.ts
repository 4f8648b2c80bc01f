/**
 * The population base as the grid worker's phone sees it (the published shapes of issue 13):
 * their cells, a cell's households and a household's members, all masked by the server, and
 * their own changes. Each answer is kept on the phone (localStorage, by URL) so that a cell
 * opened once can be browsed, and a visit recorded, with no network.
 */

import { HttpError, getJSON } from './net';

export interface Cell {
  grid_code: string;
  name: string;
  community: string | null;
  township_name: string | null;
  households: number;
  residents: number;
}

export interface HouseholdItem {
  id: number;
  household_no: string;
  address: string | null;
  grid_code: string;
  head_name: string | null;
  members: number;
  residents: number;
}

export interface Member {
  id: number;
  citizen_id: string | null;
  name: string | null;
  relation: string | null;
  sex: string | null;
  age: number | null;
  status: string;
}

export interface Household {
  id: number;
  household_no: string;
  address: string | null;
  grid_code: string;
  members: Member[];
}

export interface Change {
  id: number;
  client_id: string | null;
  kind: string;
  status: string;
  grid_code: string;
  person_id: number | null;
  person_name: string | null;
  household_id: number | null;
  household_no: string | null;
  payload: Record<string, unknown>;
  note: string | null;
  reported_at: string;
  decided_at: string | null;
  decision_note: string | null;
}

export const RELATIONS = ['户主', '配偶', '子女', '父母', '孙子女', '兄弟姐妹', '其他'] as const;
export const CORRECTABLE = ['name', 'phone', 'ethnicity', 'relation'] as const;

const PREFIX = 'cityops.report.people:';

/** An answer fresh from the server, or the last one kept on the phone when offline. */
export async function cachedJSON<T>(path: string, owner: string): Promise<{ data: T; cached: boolean }> {
  const key = `${PREFIX}${owner}:${path}`;
  const kept = (): string | null => localStorage.getItem(key);
  if (!navigator.onLine) {
    // No request at all while the browser says it is offline (nothing would answer it).
    const copy = kept();
    if (copy) return { data: JSON.parse(copy) as T, cached: true };
    throw new HttpError(0, 'offline');
  }
  try {
    const data = await getJSON<T>(path);
    try {
      localStorage.setItem(key, JSON.stringify(data));
    } catch {
      // storage full: works online, just not offline
    }
    return { data, cached: false };
  } catch (err) {
    const transient = !(err instanceof HttpError) || err.transient;
    const copy = transient ? kept() : null;
    if (copy) return { data: JSON.parse(copy) as T, cached: true };
    throw err;
  }
}

/** Forgets what another worker's session kept (a phone may be shared). */
export function forgetOthers(owner: string | null): void {
  for (let i = localStorage.length - 1; i >= 0; i -= 1) {
    const key = localStorage.key(i);
    if (key?.startsWith(PREFIX) && (!owner || !key.startsWith(`${PREFIX}${owner}:`))) localStorage.removeItem(key);
  }
}

/** A citizen ID's shape, as the server checks it first (the check digit is the server's). */
export function idShapeOk(value: string): boolean {
  return /^[0-9]{17}[0-9Xx]$/.test(value.trim());
}
