/**
 * The one place where the console talks HTTP to its backend. When login arrives, the token set
 * with `setAuthToken` is added to every API call and to every map request of the same origin
 * (tiles, glyphs) through `transformRequest`.
 */

import type { RequestParameters, ResourceType } from 'maplibre-gl';

let authToken: string | null = null;

export function setAuthToken(token: string | null): void {
  authToken = token;
}

/** An API call that failed: HTTP status (0 for a network error) and a short message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly url: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
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
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
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
    throw new ApiError(response.status, `HTTP ${response.status} ${response.statusText}`.trim(), url);
  }
  return response;
}

export async function getJSON<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await apiFetch(path, init);
  try {
    return (await response.json()) as T;
  } catch {
    throw new ApiError(response.status, 'invalid JSON', response.url);
  }
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
