/**
 * Drafts kept on the phone (IndexedDB `cityops-report`, store `drafts`): every report is saved
 * here first, with its photos as Blobs and its idempotency key (the draft's id, made by
 * crypto.randomUUID), and only then sent. A sent draft keeps its case number and drops its
 * photos; sent drafts older than a week are pruned. Changes from 我的网格 are drafts too, sent
 * by the same outbox to POST /api/people/changes with the draft's id as client_id.
 */

export type DraftState = 'queued' | 'sending' | 'sent' | 'failed';

export interface DraftBody {
  category_code: string;
  description: string;
  urgency: 'normal' | 'urgent';
  lon: number;
  lat: number;
  address?: string;
}

/** A change from the field (POST /api/people/changes); client_id is the draft's id. */
export interface ChangeBody {
  client_id: string;
  kind: 'visit' | 'move_in' | 'move_out' | 'correction' | 'death';
  grid_code: string;
  person_id?: number;
  household_id?: number;
  payload: Record<string, unknown>;
  note?: string;
}

export interface DraftPhoto {
  name: string;
  type: string;
  blob: Blob;
  /** Set once uploaded, so that a retry does not upload it again. */
  sha256?: string;
}

export interface Draft {
  /** Also the idempotency key of POST /api/incidents. */
  id: string;
  /** The user who made it: only they send it (a phone may be shared). */
  owner: string;
  created_at: string;
  body: DraftBody;
  photos: DraftPhoto[];
  photo_count: number;
  state: DraftState;
  attempts: number;
  error?: string;
  last_try_at?: string;
  sent_at?: string;
  case_no?: string;
  incident_id?: number;
  /** Set for a change from 我的网格 (then `body.description` is its one-line summary). */
  change?: ChangeBody;
  /** The change's id and status once sent. */
  change_id?: number;
  change_status?: string;
}

const DB_NAME = 'cityops-report';
const STORE = 'drafts';
const KEEP_SENT_MS = 7 * 24 * 3600 * 1000;

let opening: Promise<IDBDatabase> | null = null;

function promised<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function open(): Promise<IDBDatabase> {
  opening ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      const store = req.result.createObjectStore(STORE, { keyPath: 'id' });
      store.createIndex('created_at', 'created_at');
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => {
      opening = null;
      reject(req.error ?? new Error('IndexedDB is not available'));
    };
  });
  return opening;
}

async function tx<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  const transaction = db.transaction(STORE, mode);
  const result = promised(work(transaction.objectStore(STORE)));
  await new Promise<void>((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
  });
  return result;
}

export function newDraftId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // Older browsers on plain http: 122 random bits in the UUID v4 layout.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export async function putDraft(draft: Draft): Promise<void> {
  await tx('readwrite', (s) => s.put(draft));
}

export async function getDraft(id: string): Promise<Draft | undefined> {
  return tx('readonly', (s) => s.get(id) as IDBRequest<Draft | undefined>);
}

export async function deleteDraft(id: string): Promise<void> {
  await tx('readwrite', (s) => s.delete(id));
}

/** Every draft, oldest first. */
export async function allDrafts(): Promise<Draft[]> {
  const drafts = await tx('readonly', (s) => s.getAll() as IDBRequest<Draft[]>);
  return drafts.sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/** Drops sent drafts older than a week; a draft left "sending" by a closed page is queued again. */
export async function tidy(now = Date.now()): Promise<void> {
  for (const draft of await allDrafts()) {
    if (draft.state === 'sent' && now - Date.parse(draft.sent_at ?? draft.created_at) > KEEP_SENT_MS) {
      await deleteDraft(draft.id);
    } else if (draft.state === 'sending') {
      await putDraft({ ...draft, state: 'queued' });
    }
  }
}
