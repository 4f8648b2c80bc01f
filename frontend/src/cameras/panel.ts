/**
 * The camera panel (right column, beneath the video panels): the selected camera (name, code,
 * status, kind, height, range, field of view, heading, presets, a play button) and the camera
 * alarm list. Foldable; a phone gets it full width under the videos.
 */

import { getJSON } from '../api';
import { el } from '../dom';
import type { CatalogField } from '../catalog';
import { onLangChange, pick, type Bilingual } from '../i18n';
import { distance, formatTime } from '../desk/names';
import { describeError } from '../toast';
import type { CameraAlarmList } from './alarmList';
import { ct } from './strings';
import { KIND_NAMES, STATUS_COLORS, STATUS_NAMES, statusOf, type Camera } from './types';

export interface CameraPanelHooks {
  onPlay: (camera: Camera) => void;
  onClose: () => void;
  /** The status a live event gave the camera after its record was read. */
  liveStatus: (code: string) => string | null;
}

function deg(value: number | null): string {
  return typeof value === 'number' ? `${Math.round(value)}°` : '—';
}

export class CameraPanel {
  readonly root = el('aside', 'panel cam-panel');
  private readonly heading = el('h2', 'panel-title');
  private readonly collapseButton = el('button', 'panel-collapse');
  private readonly detail = el('section', 'cam-detail');
  camera: Camera | null = null;
  private code: string | null = null;
  private failed = '';
  private seq = 0;
  /** Coded values' names from the catalog's cameras layer (its YAML), over the built-in ones. */
  private names: Record<string, Record<string, Bilingual>> = { kind: KIND_NAMES, status: STATUS_NAMES };

  constructor(private readonly alarms: CameraAlarmList, private readonly hooks: CameraPanelHooks) {
    this.root.dataset.testid = 'camera-panel';
    this.root.hidden = true;
    this.collapseButton.type = 'button';
    this.collapseButton.dataset.testid = 'camera-panel-toggle';
    this.collapseButton.addEventListener('click', () => this.setCollapsed(!this.collapsed));
    const header = el('div', 'panel-header');
    const badge = el('span', 'badge-synthetic');
    badge.dataset.testid = 'camera-synthetic';
    header.append(this.heading, badge, this.collapseButton);
    this.detail.dataset.testid = 'camera-detail';
    this.detail.hidden = true;
    const body = el('div', 'panel-body cam-body');
    body.append(this.detail, alarms.root);
    this.root.append(header, body);
    onLangChange(() => this.render());
    this.render();
  }

  /** The cameras layer's fields: kinds and statuses are named as the layer names them. */
  setFields(fields: CatalogField[]): void {
    for (const f of fields) if (f.values && f.name in this.names) this.names[f.name] = { ...this.names[f.name], ...f.values };
    this.render();
  }

  private valueName(field: 'kind' | 'status', value: string): string {
    const name = this.names[field]?.[value];
    return name ? pick(name) : value;
  }

  get open(): boolean {
    return !this.root.hidden;
  }

  get collapsed(): boolean {
    return this.root.classList.contains('collapsed');
  }

  setOpen(open: boolean): void {
    this.root.hidden = !open;
  }

  setCollapsed(collapsed: boolean): void {
    this.root.classList.toggle('collapsed', collapsed);
    this.render();
  }

  /** Shows camera `code` (its record from `GET /api/cameras/{code}`); null clears. */
  async show(code: string | null): Promise<Camera | null> {
    const seq = ++this.seq;
    this.code = code;
    this.camera = null;
    this.failed = '';
    this.render();
    if (!code) return null;
    try {
      const camera = await getJSON<Camera>(`/api/cameras/${encodeURIComponent(code)}`);
      if (seq !== this.seq) return null;
      this.camera = camera;
    } catch (err) {
      if (seq !== this.seq) return null;
      this.failed = describeError(err);
    }
    this.render();
    return this.camera;
  }

  render(): void {
    this.heading.textContent = ct('panel');
    const badge = this.root.querySelector('.badge-synthetic');
    if (badge) badge.textContent = ct('synthetic');
    this.collapseButton.textContent = this.collapsed ? '▸' : '▾';
    this.collapseButton.title = this.collapseButton.ariaLabel = this.collapsed ? ct('expand') : ct('collapse');
    this.alarms.render();
    this.renderDetail();
  }

  private renderDetail(): void {
    const box = this.detail;
    box.hidden = this.code === null;
    box.replaceChildren();
    if (this.code === null) return;
    const head = el('div', 'cam-detail-head');
    const c = this.camera;
    const name = el('h3', 'cam-detail-name', c?.name ?? this.code);
    name.dataset.testid = 'camera-name';
    const close = el('button', 'cam-video-close', '×');
    close.type = 'button';
    close.title = close.ariaLabel = ct('closeCamera');
    close.dataset.testid = 'camera-detail-close';
    close.addEventListener('click', () => this.hooks.onClose());
    head.append(name, close);
    box.append(head);
    if (!c) {
      box.append(el('p', 'panel-note', this.failed ? `${ct('cameraFailed')}: ${this.failed}` : '…'));
      return;
    }
    const status = statusOf(this.hooks.liveStatus(c.code) ?? c.status);
    const facts = el('dl', 'cam-facts');
    const fact = (label: string, value: string | HTMLElement, testid?: string): void => {
      const dd = el('dd');
      if (typeof value === 'string') dd.textContent = value;
      else dd.append(value);
      if (testid) dd.dataset.testid = testid;
      facts.append(el('dt', '', label), dd);
    };
    const pill = el('span', `cam-status cam-status-${status}`, this.valueName('status', status));
    pill.style.setProperty('--cam-status', STATUS_COLORS[status]);
    fact(ct('status'), pill, 'camera-status');
    fact(ct('code'), c.code, 'camera-code');
    fact(ct('kind'), this.valueName('kind', c.kind), 'camera-kind');
    fact(ct('height'), typeof c.height_m === 'number' ? `${c.height_m.toFixed(1)} m` : '—');
    fact(ct('range'), typeof c.range_m === 'number' ? distance(c.range_m) : '—');
    fact(ct('fov'), deg(c.fov_deg), 'camera-fov');
    fact(ct('heading'), deg(c.heading_deg));
    if (c.address) fact(ct('address'), c.address);
    if (c.status_changed_at) fact(ct('since'), formatTime(c.status_changed_at));
    box.append(facts);
    const presets = el('div', 'cam-presets');
    presets.dataset.testid = 'camera-presets';
    presets.append(el('span', 'cam-presets-title', ct('presets')));
    if (!c.presets?.length) presets.append(el('span', 'cam-none', ct('noPresets')));
    for (const p of c.presets ?? []) {
      const chip = el('span', 'cam-preset', `${p.preset_no}${p.name ? ` ${p.name}` : ''} · ${deg(p.heading_deg)}/${deg(p.fov_deg)}`);
      chip.dataset.testid = 'camera-preset';
      presets.append(chip);
    }
    box.append(presets);
    const play = el('button', 'cam-button cam-primary', ct('play'));
    play.type = 'button';
    play.title = c.has_stream ? ct('playTitle') : ct('noStream');
    play.dataset.testid = 'camera-play';
    play.addEventListener('click', () => this.hooks.onPlay(c));
    box.append(play);
  }
}
