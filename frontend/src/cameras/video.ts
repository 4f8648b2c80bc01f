/**
 * The video panels beside the map: one per camera played (the same camera twice brings its panel
 * forward), each asking `POST /api/cameras/{code}/play` for a signed HLS address and playing it
 * muted with hls.js (loaded on first play, so the console's first paint does not carry it), or
 * natively where the browser has HLS but no Media Source (older iPhones). Closing a panel
 * destroys its hls.js instance and empties the <video>: a wall that opens and closes videos all
 * day keeps no decoder, buffer or timer of the ones it closed. Play links expire
 * (`expires_at`): when the stream fails after that, the panel asks for a new link and goes on
 * (at most once a minute, so a stream that is really gone stops with its message). The demo's
 * test streams are short VOD playlists: the player loops them.
 */

import type Hls from 'hls.js';
import { isStatus, postJSON } from '../api';
import { el } from '../dom';
import { onLangChange } from '../i18n';
import { describeError } from '../toast';
import { ct } from './strings';
import type { PlayLink } from './types';

const MAX_PANELS = 4; // the oldest closes beyond this: four streams is what a desk PC decodes well
const HLS_TYPE = 'application/vnd.apple.mpegurl';
const RENEW_GAP_MS = 60_000;
const EXPIRY_SLACK_MS = 5_000;

interface Playing {
  code: string;
  root: HTMLElement;
  video: HTMLVideoElement;
  hls: Hls | null;
  closed: boolean;
  expiresAt: number;
  renewedAt: number;
}

export class VideoDock {
  readonly root = el('section', 'cam-videos');
  private readonly panels = new Map<string, Playing>();
  /** hls.js instances alive now (end-to-end tests check that closing frees them). */
  live = 0;

  constructor() {
    this.root.dataset.testid = 'camera-videos';
    this.root.hidden = true;
    onLangChange(() => this.relabel());
  }

  get codes(): string[] {
    return [...this.panels.keys()];
  }

  /** Opens (or brings forward) the video of `code`; `hasStream: false` says so without asking. */
  play(code: string, name: string | null, hasStream = true): void {
    const open = this.panels.get(code);
    if (open) {
      this.root.prepend(open.root);
      return;
    }
    const playing = this.panel(code, name);
    this.panels.set(code, playing);
    this.root.prepend(playing.root);
    this.root.hidden = false;
    while (this.panels.size > MAX_PANELS) this.close([...this.panels.keys()][0]!);
    if (!hasStream) {
      this.say(playing, ct('noStream'), 'none');
      return;
    }
    void this.start(playing);
  }

  close(code: string): void {
    const playing = this.panels.get(code);
    if (!playing) return;
    playing.closed = true;
    if (playing.hls) {
      playing.hls.destroy();
      playing.hls = null;
      this.live -= 1;
    }
    playing.video.pause();
    playing.video.removeAttribute('src');
    playing.video.load(); // drops the media element's buffers
    playing.root.remove();
    this.panels.delete(code);
    this.root.hidden = this.panels.size === 0;
  }

  closeAll(): void {
    for (const code of this.codes) this.close(code);
  }

  private panel(code: string, name: string | null): Playing {
    const root = el('article', 'cam-video');
    root.dataset.testid = 'camera-video';
    root.dataset.code = code;
    const head = el('header', 'cam-video-head');
    const title = el('span', 'cam-video-name', name ?? code);
    title.title = code;
    const close = el('button', 'cam-video-close', '×');
    close.type = 'button';
    close.dataset.testid = 'camera-video-close';
    close.title = close.ariaLabel = ct('closeVideo');
    close.addEventListener('click', () => this.close(code));
    head.append(title, close);
    const video = el('video', 'cam-video-player');
    video.muted = true; // autoplay is allowed muted only
    video.autoplay = true;
    video.loop = true; // the demo's VOD test streams; a live stream never ends
    video.playsInline = true;
    video.controls = true;
    video.dataset.testid = 'camera-video-player';
    const note = el('p', 'cam-video-note', ct('loadingVideo'));
    note.dataset.testid = 'camera-video-note';
    root.append(head, video, note);
    return { code, root, video, hls: null, closed: false, expiresAt: 0, renewedAt: 0 };
  }

  private say(playing: Playing, text: string, state: string): void {
    const note = playing.root.querySelector<HTMLElement>('.cam-video-note');
    if (note) {
      note.textContent = text;
      note.hidden = !text;
    }
    playing.root.dataset.state = state;
    playing.video.hidden = state === 'none' || state === 'failed';
  }

  /** A signed address of the camera's HLS stream, or null after saying why there is none. */
  private async link(playing: Playing): Promise<PlayLink | null> {
    let link: PlayLink | null;
    try {
      link = await postJSON<PlayLink>(`/api/cameras/${encodeURIComponent(playing.code)}/play`, { protocol: 'hls' });
    } catch (err) {
      if (playing.closed) return null;
      // 404 (no such camera, or no stream for it): the server's message, or ours.
      if (isStatus(err, 404, 409)) this.say(playing, ct('noStream'), 'none');
      else this.say(playing, `${ct('playFailed')}: ${describeError(err)}`, 'failed');
      return null;
    }
    if (playing.closed) return null;
    if (!link?.url) {
      this.say(playing, ct('noStream'), 'none');
      return null;
    }
    playing.expiresAt = Date.parse(link.expires_at) || 0;
    return link;
  }

  /** After a fatal error: a new link when the old one has expired (a long watch), else stop. */
  private async renew(playing: Playing, details: string): Promise<void> {
    const now = Date.now();
    const expired = playing.expiresAt > 0 && now >= playing.expiresAt - EXPIRY_SLACK_MS;
    if (!expired || now - playing.renewedAt < RENEW_GAP_MS) {
      this.say(playing, `${ct('playFailed')}: ${details}`, 'failed');
      return;
    }
    playing.renewedAt = now;
    const link = await this.link(playing);
    if (!link || !playing.hls) return;
    playing.hls.loadSource(link.url);
    playing.hls.startLoad();
  }

  private async start(playing: Playing): Promise<void> {
    const link = await this.link(playing);
    if (!link) return;
    const { default: HlsClass } = await import('hls.js');
    if (playing.closed) return;
    const video = playing.video;
    video.addEventListener('playing', () => this.say(playing, '', 'playing'), { once: true });
    if (HlsClass.isSupported()) {
      const hls = new HlsClass({ lowLatencyMode: false, backBufferLength: 10 });
      playing.hls = hls;
      this.live += 1;
      hls.on(HlsClass.Events.ERROR, (_event, data) => {
        if (data.fatal && !playing.closed) void this.renew(playing, data.details);
      });
      hls.loadSource(link.url);
      hls.attachMedia(video);
    } else if (video.canPlayType(HLS_TYPE)) {
      video.src = link.url;
    } else {
      this.say(playing, ct('playFailed'), 'failed');
      return;
    }
    video.play().catch(() => undefined); // autoplay may wait for the data; `autoplay` retries
  }

  private relabel(): void {
    for (const playing of this.panels.values()) {
      const close = playing.root.querySelector<HTMLButtonElement>('.cam-video-close');
      if (close) close.title = close.ariaLabel = ct('closeVideo');
      const state = playing.root.dataset.state;
      if (state === 'none') this.say(playing, ct('noStream'), 'none');
    }
  }
}

/** The console's one dock (the desk plays into it too); main.ts places it on the stage. */
export const videos = new VideoDock();
