/**
 * The one live connection to the server's event hub (`/ws`, same origin; protocol at the top of
 * backend/realtime/messages.py).
 *
 * - First message `{"type":"auth"}`: the server authenticates the handshake's session cookie (a
 *   token is added only when one was set with `setAuthToken`-like means, e.g. a kiosk).
 * - Channels are subscribed by the modules that use them (`live.subscribe`), each with a handler
 *   for its events and one for "reload your state over REST" (first subscription, `resync`).
 * - Spatial channels flagged `followViewport` get the map's viewport (bbox + zoom, padded) and
 *   are re-subscribed as the map moves (debounced). The protocol's `viewport` message moves
 *   every spatial subscription at once, which would also narrow the county-wide alarm feed.
 * - `ping` is answered with `pong`; a connection that drops is reopened with capped, jittered
 *   backoff and resumes each channel with `since` = the last seq seen on it.
 * - Close code 4401 (not authenticated) or 4410 (session ended: logout elsewhere, the user
 *   disabled, roles or password changed) asks the login screen, then waits for a login.
 */

export type LiveState = 'connecting' | 'connected' | 'reconnecting' | 'unauthorized';

export type BBox = [number, number, number, number];

export interface Viewport {
  bbox: BBox;
  zoom: number;
}

export interface ChannelOptions {
  /** Called with each event's `data`, in seq order. */
  onEvent: (data: Record<string, unknown>, seq: number) => void;
  /** Reload the channel's state over REST (first subscription, resync, no resume possible). */
  onResync?: (reason: string) => void;
  /** Send the map's viewport with the subscription and follow the map as it moves. */
  followViewport?: boolean;
}

interface Channel extends ChannelOptions {
  name: string;
  /** Highest seq received; null until the first `subscribed` reply. */
  lastSeq: number | null;
  /** Viewport sent with the current subscription (followViewport channels). */
  sentView: string | null;
}

interface ServerMessage {
  type?: string;
  channel?: string;
  seq?: number;
  data?: Record<string, unknown>;
  reason?: string;
  message?: string;
}

/** The hub's channel of vehicle positions (the catalog's live layer of buses names it too). */
export const POSITIONS_CHANNEL = 'vehicles.positions';

const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
const VIEWPORT_DEBOUNCE_MS = 300;
/** The viewport sent to the server is this much larger on each side, so buses just outside
 *  the screen are already known when the map pans. */
const VIEWPORT_PAD = 0.25;
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_REVOKED = 4410;

function wsUrl(): string {
  const url = new URL('/ws', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** A padded, valid WGS84 bbox (the server refuses w >= e or values out of range). */
export function paddedBBox([w, s, e, n]: BBox, pad = VIEWPORT_PAD): BBox {
  const dx = (e - w) * pad;
  const dy = (n - s) * pad;
  const out: BBox = [clamp(w - dx, -180, 180), clamp(s - dy, -90, 90), clamp(e + dx, -180, 180), clamp(n + dy, -90, 90)];
  if (!(out[0] < out[2]) || !(out[1] < out[3])) return [-180, -90, 180, 90];
  return out.map((v) => Math.round(v * 1e5) / 1e5) as BBox;
}

export class LiveConnection {
  private socket: WebSocket | null = null;
  private readonly channels = new Map<string, Channel>();
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  private readonly authListeners = new Set<() => void>();
  private state: LiveState = 'connecting';
  private attempts = 0;
  private retryTimer = 0;
  private viewTimer = 0;
  private viewport: Viewport | null = null;
  private authenticated = false;
  private stopped = true;
  private token: string | null = null;
  /** Counters for tests and diagnostics: authenticated connections, subscriptions confirmed,
   *  events received per channel, server pings answered, resyncs asked by the server. */
  readonly stats = { connections: 0, subscribed: 0, events: {} as Record<string, number>, pings: 0, resyncs: 0 };

  get currentState(): LiveState {
    return this.state;
  }

  /** Opens the connection (again); channels subscribed before are resumed. */
  start(): void {
    this.stopped = false;
    window.clearTimeout(this.retryTimer);
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    this.open();
  }

  /** Closes the connection and does not reopen it until `start()` (logout, tests). */
  stop(): void {
    this.stopped = true;
    this.authenticated = false;
    this.setState('connecting');
    window.clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, 'logout');
  }

  /** A token for the auth message (machine clients); the session cookie is used otherwise. */
  setToken(token: string | null): void {
    this.token = token;
  }

  onState(listener: (state: LiveState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  /** Called when the server refuses the connection as not authenticated (close 4401) or
   *  ends it because the session ended (4410). */
  onUnauthorized(listener: () => void): void {
    this.authListeners.add(listener);
  }

  subscribe(name: string, options: ChannelOptions): void {
    const channel: Channel = { ...options, name, lastSeq: null, sentView: null };
    this.channels.set(name, channel);
    if (this.authenticated) this.sendSubscribe(channel);
  }

  /** The map's view; sent (debounced) to the channels that follow it. */
  setViewport(viewport: Viewport): void {
    this.viewport = { bbox: paddedBBox(viewport.bbox), zoom: Math.round(viewport.zoom * 10) / 10 };
    window.clearTimeout(this.viewTimer);
    this.viewTimer = window.setTimeout(() => this.flushViewport(), VIEWPORT_DEBOUNCE_MS);
  }

  /** The viewport the server filters with, for tests and for the offline check. */
  get sentViewport(): Viewport | null {
    return this.viewport;
  }

  private flushViewport(): void {
    if (!this.authenticated) return;
    for (const channel of this.channels.values()) {
      if (channel.followViewport && channel.sentView !== this.viewKey()) this.sendSubscribe(channel);
    }
  }

  private viewKey(): string | null {
    return this.viewport ? JSON.stringify(this.viewport) : null;
  }

  private setState(state: LiveState): void {
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private sendSubscribe(channel: Channel): void {
    const message: Record<string, unknown> = { type: 'subscribe', channel: channel.name };
    if (channel.followViewport && this.viewport) {
      message.bbox = this.viewport.bbox;
      message.zoom = this.viewport.zoom;
      channel.sentView = this.viewKey();
    }
    if (channel.lastSeq !== null) message.since = channel.lastSeq;
    this.send(message);
  }

  private open(): void {
    this.authenticated = false;
    let socket: WebSocket;
    try {
      socket = new WebSocket(wsUrl());
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener('open', () => {
      const auth: Record<string, unknown> = { type: 'auth' };
      if (this.token) auth.token = this.token;
      socket.send(JSON.stringify(auth));
    });
    socket.addEventListener('message', (event) => {
      if (socket !== this.socket || typeof event.data !== 'string') return;
      let message: ServerMessage;
      try {
        message = JSON.parse(event.data) as ServerMessage;
      } catch {
        return;
      }
      this.handle(message);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.authenticated = false;
      if (this.stopped) return;
      if (event.code === CLOSE_UNAUTHORIZED || event.code === CLOSE_REVOKED) {
        this.setState('unauthorized');
        for (const listener of this.authListeners) listener();
        // The login screen calls start() after a login; meanwhile try again slowly, in case
        // the session came back by other means (another tab logged in).
        this.retry(BACKOFF_MAX_MS);
        return;
      }
      this.retry();
    });
    // 'error' is always followed by 'close', which schedules the retry.
  }

  private retry(delay?: number): void {
    this.setState(this.state === 'unauthorized' ? 'unauthorized' : 'reconnecting');
    window.clearTimeout(this.retryTimer);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.attempts, 5));
    this.attempts += 1;
    const wait = delay ?? base * (0.75 + Math.random() * 0.5);
    this.retryTimer = window.setTimeout(() => {
      if (!this.stopped) this.open();
    }, wait);
  }

  private handle(message: ServerMessage): void {
    switch (message.type) {
      case 'authenticated':
        this.authenticated = true;
        this.attempts = 0;
        this.stats.connections += 1;
        this.setState('connected');
        for (const channel of this.channels.values()) this.sendSubscribe(channel);
        break;
      case 'event': {
        const channel = this.channels.get(message.channel ?? '');
        if (!channel || typeof message.seq !== 'number' || !message.data) return;
        this.stats.events[channel.name] = (this.stats.events[channel.name] ?? 0) + 1;
        if (channel.lastSeq === null || message.seq > channel.lastSeq) channel.lastSeq = message.seq;
        channel.onEvent(message.data, message.seq);
        break;
      }
      case 'subscribed': {
        const channel = this.channels.get(message.channel ?? '');
        if (!channel || typeof message.seq !== 'number') return;
        this.stats.subscribed += 1;
        if (channel.lastSeq === null) {
          // A fresh subscription: what happened before it comes from REST.
          channel.lastSeq = message.seq;
          channel.onResync?.('subscribed');
        }
        break;
      }
      case 'resync': {
        const channel = this.channels.get(message.channel ?? '');
        this.stats.resyncs += 1;
        channel?.onResync?.(message.reason ?? 'resync');
        break;
      }
      case 'ping':
        this.stats.pings += 1;
        this.send({ type: 'pong' });
        break;
      case 'error':
        // A refused message (e.g. a channel this user may not read): the connection stays.
        console.warn('live:', message.message);
        break;
      default:
        break;
    }
  }
}
