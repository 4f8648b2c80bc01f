/**
 * The outbox: drafts saved in IndexedDB are sent one by one, photos first (POST /api/photos,
 * each remembered by its hash once uploaded), then the case (POST /api/incidents with the
 * draft's id as Idempotency-Key). A draft is sent at most once: the key makes a repeated POST
 * answer 200 with the case made the first time, and that counts as sent.
 *
 * Sending is tried on page load, when the browser says it is online again, every 30 s, and
 * right after a new draft is saved; never while the browser says it is offline. No network, a
 * timeout, a server fault or a lost login leave the draft queued; a refusal (the server said
 * the draft is wrong) marks it failed with the server's reason, to be retried or deleted by hand.
 * One pass runs at a time, across tabs too (Web Locks when available). Changes from 我的网格
 * go the same way to POST /api/people/changes, their client_id being the draft's id.
 */

import { HttpError, messageOf, postJSON, request, type Incident, type Photo } from './net';
import { allDrafts, deleteDraft, getDraft, newDraftId, putDraft, tidy, type ChangeBody, type Draft, type DraftBody } from './store';

const RETRY_MS = 30_000;
const UPLOAD_TIMEOUT_MS = 120_000;

type Listener = () => void;

export class Outbox {
  private pass: Promise<void> | null = null;
  private again = false;
  private readonly listeners = new Set<Listener>();
  /** The signed-in worker's drafts, oldest first. */
  drafts: Draft[] = [];
  /** Who is signed in: only their drafts are shown and sent (null: nothing is sent). */
  owner: () => string | null = () => null;

  onChange(listener: Listener): void {
    this.listeners.add(listener);
  }

  /** Reads the drafts again (after a change, or when someone else signs in). */
  async changed(): Promise<void> {
    const me = this.owner();
    this.drafts = (await allDrafts()).filter((d) => d.owner === me);
    for (const listener of this.listeners) listener();
  }

  get waiting(): number {
    return this.drafts.filter((d) => d.state !== 'sent').length;
  }

  /** Loads the drafts and starts the retry triggers. */
  async start(): Promise<void> {
    await tidy();
    await this.changed();
    window.addEventListener('online', () => void this.flush());
    setInterval(() => void this.flush(), RETRY_MS);
    void this.flush();
  }

  /** Saves a new draft (before anything is sent) and tries to send it. */
  async add(body: DraftBody, photos: File[] | Blob[]): Promise<Draft> {
    const owner = this.owner();
    if (!owner) throw new Error('not signed in');
    const draft: Draft = {
      id: newDraftId(),
      owner,
      created_at: new Date().toISOString(),
      body,
      photos: photos.map((p, i) => ({
        name: p instanceof File ? p.name : `photo-${i + 1}.jpg`,
        type: p.type,
        blob: p,
      })),
      photo_count: photos.length,
      state: 'queued',
      attempts: 0,
    };
    await putDraft(draft);
    await this.changed();
    void this.flush();
    return draft;
  }

  /**
   * Saves a change from 我的网格 as a draft (client_id = the draft's id, so that a second send
   * is answered with the change the first one made) and tries to send it.
   */
  async addChange(change: Omit<ChangeBody, 'client_id'>, summary: string): Promise<Draft> {
    const owner = this.owner();
    if (!owner) throw new Error('not signed in');
    const id = newDraftId();
    const draft: Draft = {
      id,
      owner,
      created_at: new Date().toISOString(),
      body: { category_code: `people.${change.kind}`, description: summary, urgency: 'normal', lon: 0, lat: 0 },
      photos: [],
      photo_count: 0,
      state: 'queued',
      attempts: 0,
      change: { ...change, client_id: id },
    };
    await putDraft(draft);
    await this.changed();
    void this.flush();
    return draft;
  }

  async retry(id: string): Promise<void> {
    const draft = await getDraft(id);
    if (draft && draft.state === 'failed') {
      await putDraft({ ...draft, state: 'queued' });
      await this.changed();
    }
    void this.flush();
  }

  async remove(id: string): Promise<void> {
    await deleteDraft(id);
    await this.changed();
  }

  async clearSent(): Promise<void> {
    for (const draft of this.drafts) if (draft.state === 'sent') await deleteDraft(draft.id);
    await this.changed();
  }

  /** One pass over the queued drafts; a call during a pass asks for one more pass after it. */
  flush(): Promise<void> {
    if (this.pass) {
      this.again = true;
      return this.pass;
    }
    this.pass = (async () => {
      do {
        this.again = false;
        await withLock(() => this.sendQueued());
      } while (this.again && navigator.onLine);
    })().finally(() => {
      this.pass = null;
    });
    return this.pass;
  }

  private async sendQueued(): Promise<void> {
    for (const draft of await allDrafts()) {
      const me = this.owner();
      if (!navigator.onLine || !me) return;
      if (draft.state !== 'queued' || draft.owner !== me) continue;
      const ok = await this.sendOne(draft);
      if (!ok) return; // the network or the login is gone: the rest waits too
    }
  }

  /** Sends one draft; false when it stays queued for a transient reason. */
  private async sendOne(start: Draft): Promise<boolean> {
    let draft: Draft = {
      ...start,
      state: 'sending',
      attempts: start.attempts + 1,
      last_try_at: new Date().toISOString(),
    };
    await putDraft(draft);
    await this.changed();
    try {
      if (draft.change) {
        // 201 made now, or 200: the server had it from an earlier send (sent once).
        const sent = await postJSON<{ id: number; status: string }>('/api/people/changes', draft.change);
        draft = { ...draft, state: 'sent', sent_at: new Date().toISOString(), change_id: sent.body.id, change_status: sent.body.status, error: undefined };
        await putDraft(draft);
        await this.changed();
        return true;
      }
      for (const [i, photo] of draft.photos.entries()) {
        if (photo.sha256) continue;
        const form = new FormData();
        form.append('file', photo.blob, photo.name);
        const response = await request('/api/photos', { method: 'POST', body: form }, UPLOAD_TIMEOUT_MS);
        const stored = (await response.json()) as Photo;
        const photos = draft.photos.slice();
        photos[i] = { ...photo, sha256: stored.sha256 };
        draft = { ...draft, photos };
        await putDraft(draft);
      }
      const hashes = draft.photos.map((p) => p.sha256 as string);
      const sent = await postJSON<Incident>(
        '/api/incidents',
        { ...draft.body, photos: hashes, idempotency_key: draft.id },
        { 'Idempotency-Key': draft.id },
      );
      draft = {
        ...draft,
        state: 'sent',
        photos: [], // the server has them; free the phone's storage
        sent_at: new Date().toISOString(),
        case_no: sent.body.case_no,
        incident_id: sent.body.id,
        error: undefined,
      };
      await putDraft(draft);
      await this.changed();
      return true;
    } catch (err) {
      const transient = !(err instanceof HttpError) || err.transient;
      await putDraft({ ...draft, state: transient ? 'queued' : 'failed', error: messageOf(err) });
      await this.changed();
      return !transient;
    }
  }
}

async function withLock(work: () => Promise<void>): Promise<void> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return work();
  await locks.request('cityops-report-outbox', work);
}
