/**
 * The report form: category (部件/事件 -> major class -> minor class), description, urgency,
 * location (GPS fix with a pin to correct it on a small map), photos from the camera, submit.
 * Submitting saves a draft in the outbox (IndexedDB) first; the outbox sends it.
 */

import { applyTexts, onLang, t } from './i18n';
import type { LocationMap } from './locmap';
import type { Category } from './net';
import type { Outbox } from './outbox';
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

    const form = h(
      'form',
      { class: 'rp-form', testid: 'report-form', novalidate: true },
      h('fieldset', { class: 'rp-field' },
        h('legend', { class: 'rp-label', t: 'category' }),
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
      this.submit,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.save();
    });
    this.element = form;
    this.setKind('event');
    this.setUrgency('normal');
    this.renderWhere();
    onLang(() => {
      applyTexts(this.element);
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
    this.fillMajor();
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
      await this.outbox.add(
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
      toast(navigator.onLine ? t('savedSending') : t('savedOffline'));
      this.reset();
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error');
    } finally {
      this.submit.disabled = false;
    }
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
