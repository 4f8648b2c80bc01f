/**
 * HTTP to this server for the phone page. The session is the HttpOnly cookie set by
 * POST /api/auth/login; every call is same-origin. Errors carry the HTTP status (0 when the
 * network failed) and the server's `detail`, so that callers can tell "try again later"
 * (0, 408, 429, 5xx, 401) from "the server refused this" (other 4xx).
 */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  /** Worth trying again later: no network, a timeout, overload, a server fault or no login. */
  get transient(): boolean {
    return this.status === 0 || this.status === 401 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

const unauthorized = new Set<() => void>();

export function onUnauthorized(listener: () => void): void {
  unauthorized.add(listener);
}

async function detailOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { detail?: unknown };
    if (typeof body.detail === 'string') return body.detail;
    if (Array.isArray(body.detail)) {
      return body.detail
        .map((d: { loc?: unknown; msg?: unknown }) =>
          [Array.isArray(d.loc) ? d.loc.slice(1).join('.') : '', String(d.msg ?? '')].filter(Boolean).join(': '),
        )
        .join('; ');
    }
  } catch {
    // not JSON
  }
  return `HTTP ${response.status}`;
}

export async function request(path: string, init: RequestInit = {}, timeoutMs = 30_000): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response: Response;
  try {
    response = await fetch(new URL(path, location.href).href, {
      ...init,
      credentials: 'same-origin',
      signal: controller.signal,
    });
  } catch (err) {
    throw new HttpError(0, err instanceof Error ? err.message : String(err));
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    if (response.status === 401) for (const listener of unauthorized) listener();
    throw new HttpError(response.status, await detailOf(response));
  }
  return response;
}

export async function getJSON<T>(path: string): Promise<T> {
  const response = await request(path, { headers: { Accept: 'application/json' } });
  return (await response.json()) as T;
}

export interface Sent<T> {
  status: number;
  body: T;
}

export async function postJSON<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Sent<T>> {
  const response = await request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

/** A short readable message for an error of any kind. */
export function messageOf(err: unknown): string {
  if (err instanceof HttpError) return err.status ? `${err.message} (${err.status})` : err.message;
  return err instanceof Error ? err.message : String(err);
}

// The server's shapes ---------------------------------------------------------------------

export interface User {
  username: string;
  display_name: string | null;
  roles: string[];
  permissions: string[];
}

export interface Category {
  code: string;
  kind: 'component' | 'event' | string;
  major_code: string;
  major_name: string;
  name: string;
}

export interface Photo {
  sha256: string;
  content_type: string;
  width: number;
  height: number;
  taken_lon: number | null;
  taken_lat: number | null;
}

export interface Incident {
  id: number;
  case_no: string;
  category_code: string;
  category_name: string | null;
  urgency: string;
  description: string;
  address: string | null;
  lon: number;
  lat: number;
  grid_name: string | null;
  state: string;
  supervised: boolean;
  extension_pending: boolean;
  assignee: string | null;
  verifier: string | null;
  reporter: string | null;
  reported_at: string;
  stage_due_at: string | null;
  photos?: string[];
  actions?: string[];
}
