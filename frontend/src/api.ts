/**
 * The one place where the console talks HTTP to its backend. A logged-in browser is
 * authenticated by the server's HttpOnly session cookie (same-origin fetches, tiles and the
 * websocket handshake carry it). A token set with `setAuthToken` (e.g. a kiosk) is added to
 * every API call and to every map request of the same origin (tiles, glyphs) through
 * `transformRequest`. Any 401 is reported to the `onUnauthorized` listeners (the login screen).
 */

import type { RequestParameters, ResourceType } from 'maplibre-gl';

let authToken: string | null = null;

export function setAuthToken(token: string | null): void {
  authToken = token;
}

const unauthorizedListeners = new Set<() => void>();

/** Called whenever an API call answers 401 (the session is missing or has expired). */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Tells the listeners that the server wants a login (also used for 401s of map tiles). */
export function reportUnauthorized(): void {
  for (const listener of unauthorizedListeners) listener();
}

/**
 * An API call that failed: HTTP status (0 for a network error), a short message and, when the
 * server sent one, its `detail` (FastAPI's error body), meant for the user.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly url: string,
    readonly detail: string | null = null,
  ) {
    super(detail ?? message);
    this.name = 'ApiError';
  }
}

export interface ApiOptions {
  /** Do not report a 401 to the login screen (the login and session calls themselves). */
  quiet401?: boolean;
}

/** The `detail` of an error body: a string, or FastAPI's validation list made readable. */
async function errorDetail(response: Response): Promise<string | null> {
  try {
    const body = (await response.json()) as { detail?: unknown };
    const detail = body?.detail;
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d: { msg?: unknown; loc?: unknown }) =>
          [Array.isArray(d.loc) ? d.loc.join('.') : '', typeof d.msg === 'string' ? d.msg : '']
            .filter(Boolean)
            .join(': '),
        )
        .join('; ');
    }
  } catch {
    // not JSON: the status line says enough
  }
  return null;
}

/**
 * Absolute URL of a path of this server (MapLibre's workers need absolute URLs). URL templates
 * keep their `{z}`-style placeholders, which the URL parser would percent-encode.
 */
export function absoluteUrl(path: string): string {
  const href = new URL(path, location.href).href;
  return href.replace(/%7B/gi, '{').replace(/%7D/gi, '}');
}

function sameOrigin(url: string): boolean {
  try {
    return new URL(url, location.href).origin === location.origin;
  } catch {
    return false;
  }
}

function authHeaders(): Record<string, string> {
  return authToken ? { Authorization: `Bearer ${authToken}` } : {};
}

/** fetch() for this server's API: resolves relative paths, adds auth, throws ApiError. */
export async function apiFetch(
  path: string,
  init: RequestInit = {},
  options: ApiOptions = {},
): Promise<Response> {
  const url = absoluteUrl(path);
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(authHeaders())) headers.set(name, value);
  if (!headers.has('Accept')) headers.set('Accept', 'application/json');
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers, credentials: 'same-origin' });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, err instanceof Error ? err.message : String(err), url);
  }
  if (!response.ok) {
    if (response.status === 401 && !options.quiet401) reportUnauthorized();
    const detail = await errorDetail(response);
    throw new ApiError(response.status, `HTTP ${response.status} ${response.statusText}`.trim(), url, detail);
  }
  return response;
}

export async function getJSON<T>(path: string, init: RequestInit = {}, options: ApiOptions = {}): Promise<T> {
  const response = await apiFetch(path, init, options);
  try {
    return (await response.json()) as T;
  } catch {
    throw new ApiError(response.status, 'invalid JSON', response.url);
  }
}

/** POSTs `body` as JSON (nothing for `undefined`) and returns the parsed answer (null for 204). */
export async function postJSON<T>(
  path: string,
  body?: unknown,
  options: ApiOptions = {},
): Promise<T | null> {
  const init: RequestInit = { method: 'POST' };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  const response = await apiFetch(path, init, options);
  if (response.status === 204) return null;
  try {
    return (await response.json()) as T;
  } catch {
    return null;
  }
}

/** True for an ApiError with one of `statuses` (e.g. 404: this server has no such endpoint). */
export function isStatus(err: unknown, ...statuses: number[]): boolean {
  return err instanceof ApiError && statuses.includes(err.status);
}

/** MapLibre's `transformRequest`: auth for this server's tiles and glyphs, nothing else. */
export function transformRequest(url: string, _type?: ResourceType): RequestParameters {
  if (authToken && sameOrigin(url)) {
    return { url, headers: authHeaders(), credentials: 'same-origin' };
  }
  return { url };
}

export interface Health {
  status: string;
}

export function getHealth(signal?: AbortSignal): Promise<Health> {
  return getJSON<Health>('/api/health', signal ? { signal } : {});
}
