/**
 * One row of the layer panel: a checkbox, a swatch from the layer's style, the bilingual title,
 * a "synthetic" badge, a zoom hint, and for raster layers (imagery, hillshade) an opacity slider.
 */

import { swatchColors, swatchOutline, type CatalogLayer } from './catalog';
import { el } from './dom';
import { getLang, otherLang, pick, t } from './i18n';
import { isRaster } from './mapLayers';

export interface RowHandlers {
  checked: boolean;
  /** The raster's opacity (0-1); ignored for other kinds. */
  opacity: number;
  onToggle: (visible: boolean) => void;
  onOpacity: (opacity: number) => void;
}

export interface LayerRow {
  layer: CatalogLayer;
  item: HTMLElement;
  row: HTMLElement;
  box: HTMLInputElement;
  hint: HTMLElement;
}

function swatch(layer: CatalogLayer): HTMLElement {
  const shape = isRaster(layer) ? 'raster' : layer.kind === 'live' ? 'point' : layer.geometry;
  const node = el('span', `swatch swatch-${shape}`);
  node.setAttribute('aria-hidden', 'true');
  if (layer.kind === 'dem') node.classList.add('swatch-relief');
  const colors = swatchColors(layer);
  if (colors.length === 1) node.style.setProperty('--swatch', colors[0] ?? '');
  else if (colors.length > 1) {
    const step = 100 / colors.length;
    const stops = colors.map((c, i) => `${c} ${i * step}% ${(i + 1) * step}%`).join(', ');
    node.style.setProperty('--swatch', `linear-gradient(90deg, ${stops})`);
  }
  const outline = layer.geometry === 'polygon' ? swatchOutline(layer) : undefined;
  if (outline) node.style.setProperty('--swatch-outline', outline);
  return node;
}

function opacitySlider(layer: CatalogLayer, value: number, onInput: (opacity: number) => void): HTMLElement {
  const wrap = el('div', 'opacity-row');
  const label = el('label', 'opacity-label');
  const text = el('span', 'opacity-text', t('opacity'));
  const slider = el('input', 'opacity-slider');
  slider.type = 'range';
  slider.min = '0';
  slider.max = '100';
  slider.step = '5';
  slider.value = String(Math.round(value * 100));
  slider.dataset.testid = 'opacity-slider';
  slider.dataset.layerId = layer.id;
  const shown = el('output', 'opacity-value', `${slider.value}%`);
  slider.setAttribute('aria-label', `${t('opacity')}: ${pick(layer.title)}`);
  slider.addEventListener('input', () => {
    shown.textContent = `${slider.value}%`;
    onInput(Number(slider.value) / 100);
  });
  label.append(text, slider);
  wrap.append(label, shown);
  return wrap;
}

export function layerRow(layer: CatalogLayer, handlers: RowHandlers): LayerRow {
  const lang = getLang();
  const item = el('li', 'layer-item');
  const row = el('label', 'layer-row');
  row.dataset.layerId = layer.id;
  row.dataset.kind = layer.kind;
  row.dataset.testid = 'layer-item';
  const tip = [pick(layer.description, lang), layer.department ? `${t('department')}: ${layer.department}` : ''];
  row.title = tip.filter(Boolean).join('\n');

  const box = el('input', 'layer-check');
  box.type = 'checkbox';
  box.checked = handlers.checked;
  box.dataset.layerId = layer.id;
  box.addEventListener('change', () => handlers.onToggle(box.checked));
  if (!layer.available) {
    box.checked = false;
    box.disabled = true;
    row.classList.add('unavailable');
  }

  const names = el('span', 'layer-names');
  names.append(
    el('span', 'name-main', pick(layer.title, lang)),
    el('span', 'name-sub', pick(layer.title, otherLang(lang))),
  );

  const tags = el('span', 'layer-tags');
  if (layer.kind === 'live') tags.append(el('span', 'badge-live', t('liveBadge')));
  if (!layer.available) {
    const none = el('span', 'badge-nodata', t('noData', lang));
    none.title = t('noDataTitle', lang);
    tags.append(none);
  }
  if (layer.synthetic) {
    const badge = el('span', 'badge-synthetic', `${t('synthetic', lang)} ${t('synthetic', otherLang(lang))}`);
    badge.title = t('syntheticTitle');
    tags.append(badge);
  }
  const hint = el('span', 'zoom-hint');
  tags.append(hint);

  row.append(box, swatch(layer), names, tags);
  row.classList.toggle('off', !box.checked);
  item.append(row);
  if (isRaster(layer) && layer.available) item.append(opacitySlider(layer, handlers.opacity, handlers.onOpacity));
  return { layer, item, row, box, hint };
}
