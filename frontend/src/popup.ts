/**
 * Click on the map: a popup with the topmost feature's attributes, labelled with the catalog's
 * field titles; the other layers hit at that point are listed beneath (click one to see it).
 * Features drawn outside MapLibre (deck.gl's pipes in 3D) come in through `picker`, first.
 */

import maplibregl, { type Map as MapLibreMap, type MapMouseEvent, type PointLike } from 'maplibre-gl';
import { catalogIdOf, styleLayerIds, type Catalog, type CatalogField, type CatalogLayer } from './catalog';
import { getLang, locale, onLangChange, pick, t, type Lang } from './i18n';
import { isVector } from './mapLayers';

/** Pixels around the pointer that count as a hit, so thin lines and small points can be clicked. */
const HIT_TOLERANCE = 4;

export interface Hit {
  layer: CatalogLayer;
  properties: Record<string, unknown>;
}

/** Hits at a point of the map's container (CSS pixels) from another renderer, topmost first. */
export type Picker = (x: number, y: number) => Hit[];

interface Unit {
  suffix: string;
  zh: string;
  en: string;
  /** Ways the unit is written in a field title, e.g. "面积(㎡)". */
  spellings: string[];
}

// Units read from field-name suffixes (the catalog's naming convention: area_m2, length_m, ...).
const UNITS: Unit[] = [
  { suffix: '_m2', zh: '㎡', en: 'm²', spellings: ['㎡', 'm²', 'm2'] },
  { suffix: '_km2', zh: 'km²', en: 'km²', spellings: ['km²', 'km2'] },
  { suffix: '_mm', zh: 'mm', en: 'mm', spellings: ['mm'] },
  { suffix: '_km', zh: 'km', en: 'km', spellings: ['km'] },
  { suffix: '_m', zh: 'm', en: 'm', spellings: ['m'] },
  { suffix: '_deg', zh: '°', en: '°', spellings: ['°'] },
  { suffix: '_kmh', zh: 'km/h', en: 'km/h', spellings: ['km/h'] },
];

function unitOf(field: CatalogField): Unit | undefined {
  return UNITS.find((u) => field.name.endsWith(u.suffix));
}

/** The field's title; a unit the value will carry is taken off the title ("面积(㎡)" → "面积"). */
export function fieldLabel(field: CatalogField, lang: Lang): string {
  const title = pick(field, lang) || field.name;
  const unit = unitOf(field);
  if (!unit) return title;
  for (const spelling of unit.spellings) {
    for (const [open, close] of [['(', ')'], ['（', '）']] as const) {
      const tail = `${open}${spelling}${close}`;
      if (title.endsWith(tail)) return title.slice(0, -tail.length).trim();
    }
  }
  return title;
}

export function formatNumber(value: number, lang: Lang): string {
  const abs = Math.abs(value);
  const digits = Number.isInteger(value) ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 3;
  return new Intl.NumberFormat(locale(lang), {
    maximumFractionDigits: digits,
    useGrouping: abs >= 10000, // years and codes stay "2015", areas become "12,345"
  }).format(value);
}

/** A property value as shown to the user. */
export function formatValue(field: CatalogField, value: unknown, lang: Lang): string {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return t(value ? 'yes' : 'no', lang);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return '—';
    const unit = unitOf(field);
    const text = formatNumber(value, lang);
    return unit ? `${text} ${unit[lang]}` : text;
  }
  if (typeof value === 'object') return JSON.stringify(value);
  const named = field.values?.[String(value)];
  return named ? pick(named, lang) : String(value);
}

const HEX_COLOR = /^#[0-9a-f]{6}$/i;

export class FeaturePopup {
  private readonly layers = new Map<string, CatalogLayer>();
  private readonly queryIds: string[];
  private readonly popup: maplibregl.Popup;
  private hits: Hit[] = [];
  private current = 0;
  private hoverFrame = 0;
  private lastHover: PointLike | null = null;
  private pickers: Picker[] = [];

  /** `claims(point)`: another module (the live buses) handles clicks at this point. */
  constructor(
    private readonly map: MapLibreMap,
    catalog: Catalog,
    private readonly claims: (point: maplibregl.Point) => boolean = () => false,
  ) {
    for (const layer of catalog.layers) this.layers.set(layer.id, layer);
    this.queryIds = catalog.layers.filter(isVector).flatMap((layer) => styleLayerIds(layer));
    this.popup = new maplibregl.Popup({
      closeButton: true,
      closeOnClick: false,
      maxWidth: 'none',
      className: 'feature-popup',
      focusAfterOpen: false,
    });
    this.popup.on('close', () => {
      this.hits = [];
    });
    map.on('click', (e) => this.onClick(e));
    map.on('mousemove', (e) => this.onMove(e));
    map.on('mouseout', () => {
      map.getCanvas().style.cursor = '';
    });
    onLangChange(() => {
      if (this.hits.length) this.render();
    });
  }

  /** Adds hits from another renderer (deck.gl), listed before MapLibre's. */
  addPicker(picker: Picker): void {
    this.pickers.push(picker);
  }

  /** The catalog layers hit at a point, topmost first, one feature each. */
  hitsAt(point: maplibregl.Point): Hit[] {
    const seen = new Set<string>();
    const hits: Hit[] = [];
    for (const picker of this.pickers) {
      for (const hit of picker(point.x, point.y)) {
        if (seen.has(hit.layer.id)) continue;
        seen.add(hit.layer.id);
        hits.push(hit);
      }
    }
    const ids = this.queryIds.filter((id) => this.map.getLayer(id));
    if (!ids.length) return hits;
    const box: [PointLike, PointLike] = [
      [point.x - HIT_TOLERANCE, point.y - HIT_TOLERANCE],
      [point.x + HIT_TOLERANCE, point.y + HIT_TOLERANCE],
    ];
    const features = this.map.queryRenderedFeatures(box, { layers: ids });
    for (const feature of features) {
      const layer = this.layers.get(catalogIdOf(feature.layer.id));
      if (!layer || seen.has(layer.id)) continue;
      seen.add(layer.id);
      hits.push({ layer, properties: feature.properties ?? {} });
    }
    return hits;
  }

  private onClick(e: MapMouseEvent): void {
    const hits = this.claims(e.point) ? [] : this.hitsAt(e.point);
    if (!hits.length) {
      this.popup.remove();
      return;
    }
    this.hits = hits;
    this.current = 0;
    this.popup.setLngLat(e.lngLat);
    this.render();
    if (!this.popup.isOpen()) this.popup.addTo(this.map);
  }

  private onMove(e: MapMouseEvent): void {
    this.lastHover = e.point;
    if (this.hoverFrame) return;
    this.hoverFrame = requestAnimationFrame(() => {
      this.hoverFrame = 0;
      const point = this.lastHover as maplibregl.Point | null;
      if (!point) return;
      const over = this.claims(point) || this.hitsAt(point).length > 0;
      this.map.getCanvas().style.cursor = over ? 'pointer' : '';
    });
  }

  private render(): void {
    const hit = this.hits[this.current];
    if (!hit) return;
    const lang = getLang();
    const root = document.createElement('div');
    root.className = 'popup-body';
    root.dataset.testid = 'feature-popup';
    root.dataset.layerId = hit.layer.id;

    const title = document.createElement('h3');
    title.className = 'popup-title';
    title.textContent = pick(hit.layer.title, lang);
    const dept = document.createElement('div');
    dept.className = 'popup-dept';
    dept.textContent = hit.layer.department;
    root.append(title, dept);

    const props = hit.properties;
    const fields = hit.layer.fields.filter((f) => f.name in props);
    if (fields.length) {
      const table = document.createElement('dl');
      table.className = 'popup-fields';
      for (const field of fields) {
        const dt = document.createElement('dt');
        dt.textContent = fieldLabel(field, lang);
        const dd = document.createElement('dd');
        const value = props[field.name] as unknown;
        if (typeof value === 'string' && HEX_COLOR.test(value)) {
          // A colour is shown as itself (a swatch), its code only as the tooltip.
          const chip = document.createElement('span');
          chip.className = 'color-chip color-chip-large';
          chip.style.background = value;
          chip.title = value;
          chip.setAttribute('role', 'img');
          chip.setAttribute('aria-label', value);
          dd.append(chip);
        } else {
          const text = formatValue(field, value, lang);
          if (field.values && text !== String(value)) dd.title = String(value);
          dd.append(text);
        }
        table.append(dt, dd);
      }
      root.append(table);
    } else {
      const none = document.createElement('p');
      none.className = 'popup-empty';
      none.textContent = t('noAttributes', lang);
      root.append(none);
    }

    const others = this.hits.filter((_, i) => i !== this.current);
    if (others.length) {
      const also = document.createElement('div');
      also.className = 'popup-also';
      also.append(t('alsoHere', lang));
      others.forEach((other, i) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'popup-also-item';
        button.textContent = pick(other.layer.title, lang);
        button.addEventListener('click', () => {
          this.current = this.hits.indexOf(other);
          this.render();
        });
        if (i > 0) also.append(lang === 'zh' ? '、' : ', ');
        also.append(button);
      });
      root.append(also);
    }
    this.popup.setDOMContent(root);
  }
}
