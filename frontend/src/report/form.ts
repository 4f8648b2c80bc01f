/**
 * The report form: category (部件/事件 -> major class -> minor class), description, urgency,
 * location (GPS fix with a pin to correct it on a small map), photos from the camera, submit.
 * Submitting saves a draft in the outbox (IndexedDB) first; the outbox sends it.
 */

import { applyTexts, onLang, t } from './i18n';
import type { LocationMap } from './locmap';
import type { Category } from './net';
import { CategoryPicker } from './catpick';
import type { Outbox } from './outbox';
import type { Draft } from './store';
import { h, prepare, toast } from './ui';

const MAX_PHOTOS = 9;

interface Spot {
  lon: number;
  lat: number;
  accuracy: number | null;
  source: 'gps' | 'manual';
}

export class ReportForm {
  readonly element: HTMLElement;
  readonly mapBox: HTMLElement;
  private categories: Category[] = [];
  private kind: 'component' | 'event' = 'event';
  private urgency: 'normal' | 'urgent' = 'normal';
  private spot: Spot | null = null;
  private photos: File[] = [];
  private readonly previews: string[] = [];
  private map: LocationMap | null = null;
  private readonly kindButtons: HTMLButtonElement[];
  private readonly urgencyButtons: HTMLButtonElement[];
  private readonly major: HTMLSelectElement;
  private readonly minor: HTMLSelectElement;
  private readonly categoryNote: HTMLElement;
  private readonly description: HTMLTextAreaElement;
  private readonly address: HTMLInputElement;
  private readonly where: HTMLElement;
  private readonly fileInput: HTMLInputElement;
  private readonly thumbs: HTMLElement;
  private readonly submit: HTMLButtonElement;
  private readonly picker: CategoryPicker;
  /** The last report saved from this form: its state is shown beside the submit button. */
  private lastId: string | null = null;
  private lastState: Draft['state'] | null = null;
  private readonly status: HTMLElement;

  constructor(private readonly outbox: Outbox) {
    this.kindButtons = (['component', 'event'] as const).map((kind) => {
      const b = h('button', {
        type: 'button',
        class: 'rp-seg-btn',
        testid: `kind-${kind}`,
        t: kind === 'component' ? 'kindComponent' : 'kindEvent',
      });
      b.addEventListener('click', () => this.setKind(kind));
      return b;
    });
    this.major = h('select', { class: 'rp-input', testid: 'major', name: 'major' });
    this.minor = h('select', { class: 'rp-input', testid: 'minor', name: 'category_code' });
    this.major.addEventListener('change', () => this.fillMinor());
    this.picker = new CategoryPicker((c) => this.select(c));
    this.categoryNote = h('p', { class: 'rp-note rp-warn', t: 'categoriesUnavailable' });
    this.description = h('textarea', {
      class: 'rp-input rp-textarea',
      name: 'description',
      maxlength: 4000,
      rows: 3,
      testid: 'description',
      'data-t-ph': 'descriptionHint',
    });
    this.urgencyButtons = (['normal', 'urgent'] as const).map((u) => {
      const b = h('button', { type: 'button', class: 'rp-seg-btn', testid: `urgency-${u}`, t: u });
      b.addEventListener('click', () => this.setUrgency(u));
      return b;
    });
    this.mapBox = h('div', { class: 'rp-map', testid: 'map' });
    this.where = h('p', { class: 'rp-where', testid: 'location-text' });
    const locate = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost', t: 'locate', testid: 'locate' });
    locate.addEventListener('click', () => this.locate());
    this.address = h('input', {
      class: 'rp-input',
      name: 'address',
      maxlength: 200,
      autocomplete: 'off',
      'data-t-ph': 'address',
    });
    this.fileInput = h('input', {
      type: 'file',
      accept: 'image/*',
      capture: 'environment',
      multiple: true,
      class: 'rp-file',
      testid: 'photo-input',
    });
    this.fileInput.addEventListener('change', () => void this.addPhotos());
    this.thumbs = h('div', { class: 'rp-thumbs', testid: 'thumbs' });
    this.submit = h('button', { type: 'submit', class: 'rp-btn rp-btn-primary rp-submit', t: 'submit', testid: 'submit' });
    this.status = h('p', { class: 'rp-status', role: 'status', 'aria-live': 'polite', testid: 'submit-status' });
    this.status.hidden = true;

    const form = h(
      'form',
      { class: 'rp-form', testid: 'report-form', novalidate: true },
      h('fieldset', { class: 'rp-field' },
        h('legend', { class: 'rp-label', t: 'category' }),
        this.picker.element,
        h('div', { class: 'rp-seg', role: 'group' }, ...this.kindButtons),
        h('label', { class: 'rp-sub' }, h('span', { t: 'major' }), this.major),
        h('label', { class: 'rp-sub' }, h('span', { t: 'minor' }), this.minor),
        this.categoryNote,
      ),
      h('label', { class: 'rp-field' }, h('span', { class: 'rp-label', t: 'description' }), this.description),
      h('fieldset', { class: 'rp-field' },
        h('legend', { class: 'rp-label', t: 'urgency' }),
        h('div', { class: 'rp-seg', role: 'group' }, ...this.urgencyButtons),
      ),
      h('fieldset', { class: 'rp-field' },
        h('legend', { class: 'rp-label', t: 'location' }),
        this.mapBox,
        h('div', { class: 'rp-row' }, this.where, locate),
        h('p', { class: 'rp-note', t: 'dragHint' }),
        this.address,
      ),
      h('fieldset', { class: 'rp-field' },
        h('legend', { class: 'rp-label', t: 'photos' }),
        this.thumbs,
        h('label', { class: 'rp-btn rp-btn-ghost rp-photo-add' }, h('span', { class: 'rp-cam', 'aria-hidden': 'true' }), h('span', { t: 'addPhoto' }), this.fileInput),
      ),
      // Sticky at the bottom of the screen: the primary action never scrolls away (item 14).
      h('div', { class: 'rp-footer', testid: 'submit-bar' }, this.status, this.submit),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.save();
    });
    this.element = form;
    this.setKind('event');
    this.setUrgency('normal');
    this.renderWhere();
    outbox.onChange(() => this.renderStatus());
    // A confirmed report's line makes room once the next report is begun.
    this.description.addEventListener('input', () => {
      if (this.status.dataset.state === 'ok') this.status.hidden = true;
    });
    window.addEventListener('online', () => this.renderStatus());
    window.addEventListener('offline', () => this.renderStatus());
    onLang(() => {
      applyTexts(this.element);
      this.refillSelects();
      this.renderStatus();
      this.renderWhere();
      this.renderThumbs();
    });
    applyTexts(this.element);
  }

  attachMap(map: LocationMap): void {
    this.map = map;
    map.onMove((lon, lat) => {
      this.spot = { lon, lat, accuracy: null, source: 'manual' };
      this.renderWhere();
    });
  }

  setCategories(categories: Category[]): void {
    this.categories = categories;
    this.categoryNote.hidden = categories.length > 0;
    this.picker.setCategories(categories);
    this.refillSelects();
  }

  /** A category chosen from the search or the recent list: the selects show it. */
  private select(category: Category): void {
    if (category.kind === 'component' || category.kind === 'event') this.setKind(category.kind);
    this.major.value = category.major_code;
    this.fillMinor();
    this.minor.value = category.code;
    this.minor.dispatchEvent(new Event('change'));
  }

  /** Rebuilds the selects (new categories, or a new language) keeping what was chosen. */
  private refillSelects(): void {
    const major = this.major.value;
    const minor = this.minor.value;
    this.fillMajor();
    if (major && [...this.major.options].some((o) => o.value === major)) {
      this.major.value = major;
      this.fillMinor();
      if ([...this.minor.options].some((o) => o.value === minor)) this.minor.value = minor;
    }
  }

  private setKind(kind: 'component' | 'event'): void {
    this.kind = kind;
    for (const b of this.kindButtons) b.setAttribute('aria-pressed', String(b.dataset.testid === `kind-${kind}`));
    this.fillMajor();
  }

  private setUrgency(urgency: 'normal' | 'urgent'): void {
    this.urgency = urgency;
    for (const b of this.urgencyButtons) b.setAttribute('aria-pressed', String(b.dataset.testid === `urgency-${urgency}`));
  }

  private option(value: string, text: string): HTMLOptionElement {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    return o;
  }

  private fillMajor(): void {
    const majors = new Map<string, string>();
    for (const c of this.categories) if (c.kind === this.kind) majors.set(c.major_code, c.major_name);
    this.major.replaceChildren(this.option('', t('choose')));
    for (const [code, name] of majors) this.major.append(this.option(code, name));
    this.fillMinor();
  }

  private fillMinor(): void {
    const major = this.major.value;
    this.minor.replaceChildren(this.option('', t('choose')));
    for (const c of this.categories) {
      if (c.kind === this.kind && c.major_code === major) this.minor.append(this.option(c.code, `${c.name} · ${c.code}`));
    }
    this.minor.disabled = !major;
  }

  /** Asks the phone for a fix; without one the pin waits at the map's centre to be dragged. */
  locate(): void {
    if (!('geolocation' in navigator)) {
      this.noFix();
      return;
    }
    this.where.textContent = t('locating');
    navigator.geolocation.getCurrentPosition(
      (p) => {
        this.spot = { lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy, source: 'gps' };
        this.map?.setPosition(this.spot.lon, this.spot.lat);
        this.renderWhere();
      },
      () => this.noFix(),
      { enableHighAccuracy: true, timeout: 15_000, maximumAge: 30_000 },
    );
  }

  private noFix(): void {
    if (!this.spot && this.map) {
      const [lon, lat] = this.map.placeAtCenter();
      this.spot = { lon, lat, accuracy: null, source: 'manual' };
    }
    this.renderWhere(true);
  }

  private renderWhere(failed = false): void {
    if (!this.spot) {
      this.where.textContent = failed ? t('locationNone') : t('locating');
      return;
    }
    const { lon, lat, accuracy, source } = this.spot;
    const how = source === 'gps' ? t('locationGps') : t('locationMoved');
    const acc = accuracy !== null ? ` ±${Math.round(accuracy)} m` : '';
    this.where.textContent = `${lon.toFixed(5)}, ${lat.toFixed(5)}${acc} · ${failed ? t('locationNone') : how}`;
  }

  private async addPhotos(): Promise<void> {
    const files = [...(this.fileInput.files ?? [])];
    this.fileInput.value = '';
    if (this.photos.length + files.length > MAX_PHOTOS) toast(t('tooManyPhotos'), 'error');
    for (const file of files.slice(0, MAX_PHOTOS - this.photos.length)) {
      this.photos.push(await prepare(file));
    }
    this.renderThumbs();
  }

  private renderThumbs(): void {
    for (const url of this.previews.splice(0)) URL.revokeObjectURL(url);
    this.thumbs.replaceChildren(
      ...this.photos.map((file, i) => {
        const url = URL.createObjectURL(file);
        this.previews.push(url);
        const remove = h('button', { type: 'button', class: 'rp-thumb-x', 'aria-label': t('removePhoto'), title: t('removePhoto') }, '×');
        remove.addEventListener('click', () => {
          this.photos.splice(i, 1);
          this.renderThumbs();
        });
        return h('div', { class: 'rp-thumb', testid: 'thumb' }, h('img', { src: url, alt: file.name }), remove);
      }),
    );
  }

  private async save(): Promise<void> {
    const code = this.minor.value;
    const description = this.description.value.trim();
    if (!code) return this.refuse(t('needCategory'), this.minor);
    if (!description) return this.refuse(t('needDescription'), this.description);
    if (!this.spot) return this.refuse(t('needLocation'), this.mapBox);
    this.submit.disabled = true;
    try {
      const address = this.address.value.trim();
      const draft = await this.outbox.add(
        {
          category_code: code,
          description,
          urgency: this.urgency,
          lon: Number(this.spot.lon.toFixed(7)),
          lat: Number(this.spot.lat.toFixed(7)),
          ...(address ? { address } : {}),
        },
        this.photos,
      );
      this.lastId = draft.id;
      this.lastState = null;
      this.picker.remember(code);
      this.renderStatus();
      this.reset();
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error');
    } finally {
      this.submit.disabled = false;
    }
  }

  /**
   * What happened to the last report, kept in view beside the submit button until the next
   * one: 正在发送, then 已受理 with the case number once the server accepted it, or, while
   * there is no network, that it waits on the phone and goes by itself later.
   */
  private renderStatus(): void {
    const draft = this.lastId ? this.outbox.drafts.find((d) => d.id === this.lastId) : undefined;
    if (!draft) {
      this.status.hidden = true;
      return;
    }
    let text: string;
    let kind: string;
    if (draft.state === 'sent') {
      text = t('acceptedAs').replace('{case}', draft.case_no ?? '');
      kind = 'ok';
    } else if (draft.state === 'failed') {
      text = `${t('refusedBecause')}: ${draft.error ?? ''}`;
      kind = 'error';
    } else if (draft.state === 'sending') {
      text = t('sendingNow');
      kind = 'busy';
    } else if (!navigator.onLine) {
      text = t('waitingNetwork');
      kind = 'wait';
    } else {
      text = draft.attempts ? `${t('waitingRetry')}${draft.error ? ` (${draft.error})` : ''}` : t('sendingNow');
      kind = draft.attempts ? 'wait' : 'busy';
    }
    // The status line is the confirmation; a toast only when the worker is on another tab.
    if (draft.state !== this.lastState && draft.state === 'sent' && !this.element.checkVisibility()) toast(text);
    this.lastState = draft.state;
    this.status.textContent = text;
    this.status.dataset.state = kind;
    this.status.hidden = false;
  }

  private refuse(message: string, field: HTMLElement): void {
    toast(message, 'error');
    field.scrollIntoView({ block: 'center', behavior: 'smooth' });
    if ('focus' in field) (field as HTMLElement).focus();
  }

  private reset(): void {
    this.description.value = '';
    this.address.value = '';
    this.photos = [];
    this.renderThumbs();
    this.setUrgency('normal');
    this.spot = null;
    this.locate();
  }
}
