/**
 * The layer panel: the catalog grouped by domain, a checkbox per layer, a swatch from its style,
 * a "synthetic" badge, and a hint when the map's zoom is outside the layer's zoom range.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';
import {
  groupByDomain,
  styleLayerIds,
  swatchColors,
  swatchOutline,
  type Catalog,
  type CatalogLayer,
} from './catalog';
import { getLang, onLangChange, otherLang, pick, t } from './i18n';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = '',
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** The collapsible frame of the panel; the list inside is filled once the catalog is loaded. */
export class LayerPanel {
  private readonly header: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly collapseButton: HTMLButtonElement;
  private readonly body: HTMLElement;
  private readonly visible = new Map<string, boolean>();
  private rows: Array<{ layer: CatalogLayer; row: HTMLElement; hint: HTMLElement }> = [];
  private catalog: Catalog | null = null;
  private failed = false;
  private map: MapLibreMap | null = null;
  private zoomFrame = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly root: HTMLElement) {
    this.header = el('div', 'panel-header');
    this.heading = el('h2', 'panel-title');
    this.collapseButton = el('button', 'panel-collapse');
    this.collapseButton.type = 'button';
    this.collapseButton.dataset.testid = 'layer-panel-toggle';
    this.collapseButton.addEventListener('click', () => this.setCollapsed(!this.collapsed));
    this.header.append(this.heading, this.collapseButton);
    this.body = el('div', 'panel-body');
    this.body.append(el('p', 'panel-note', t('layersLoading')));
    root.append(this.header, this.body);
    if (window.innerWidth < 800) this.setCollapsed(true);
    this.renderChrome();
    onLangChange(() => this.renderAll());
  }

  get collapsed(): boolean {
    return this.root.classList.contains('collapsed');
  }

  setCollapsed(collapsed: boolean): void {
    this.root.classList.toggle('collapsed', collapsed);
    this.renderChrome();
    for (const listener of this.listeners) listener();
  }

  /** Called when the panel is collapsed or expanded. */
  onToggle(listener: () => void): void {
    this.listeners.add(listener);
  }

  isVisible(layerId: string): boolean {
    return this.visible.get(layerId) ?? false;
  }

  /** Fills the panel from the catalog and keeps it in step with the map. */
  attach(map: MapLibreMap, catalog: Catalog): void {
    this.map = map;
    this.catalog = catalog;
    this.failed = false;
    for (const layer of catalog.layers) this.visible.set(layer.id, layer.visible);
    this.renderList();
    map.on('zoom', () => {
      if (this.zoomFrame) return;
      this.zoomFrame = requestAnimationFrame(() => {
        this.zoomFrame = 0;
        this.updateZoomHints();
      });
    });
  }

  setLayerVisible(layer: CatalogLayer, visible: boolean): void {
    this.visible.set(layer.id, visible);
    const map = this.map;
    if (!map) return;
    for (const id of styleLayerIds(layer)) {
      if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    }
    const row = this.rows.find((r) => r.layer.id === layer.id);
    row?.row.classList.toggle('off', !visible);
  }

  private renderChrome(): void {
    this.heading.textContent = '';
    this.heading.append(
      el('span', 'name-main', t('layers')),
      el('span', 'name-sub', t('layers', otherLang())),
    );
    const label = t(this.collapsed ? 'expandPanel' : 'collapsePanel');
    this.collapseButton.title = label;
    this.collapseButton.setAttribute('aria-label', label);
    this.collapseButton.setAttribute('aria-expanded', String(!this.collapsed));
    this.collapseButton.textContent = this.collapsed ? '☰' : '‹';
  }

  /** Shows that the catalog could not be loaded (the toast says why and offers a retry). */
  showFailed(failed: boolean): void {
    this.failed = failed;
    this.renderAll();
  }

  private renderAll(): void {
    this.renderChrome();
    if (this.catalog) this.renderList();
    else this.body.replaceChildren(el('p', 'panel-note', t(this.failed ? 'catalogFailed' : 'layersLoading')));
  }

  private renderList(): void {
    const catalog = this.catalog;
    if (!catalog) return;
    const lang = getLang();
    this.rows = [];
    const groups = groupByDomain(catalog);
    if (!groups.length) {
      this.body.replaceChildren(el('p', 'panel-note', t('layersEmpty')));
      return;
    }
    const fragments = groups.map(({ domain, layers }) => {
      const section = el('section', 'domain');
      section.dataset.domain = domain;
      const title = el('h3', 'domain-title');
      const names = catalog.domains[domain] ?? { zh: domain, en: domain };
      title.append(el('span', 'name-main', pick(names, lang)), el('span', 'name-sub', pick(names, otherLang(lang))));
      const list = el('ul', 'layer-list');
      for (const layer of layers) list.append(this.renderRow(layer));
      section.append(title, list);
      return section;
    });
    this.body.replaceChildren(...fragments);
    this.updateZoomHints();
  }

  private renderRow(layer: CatalogLayer): HTMLElement {
    const lang = getLang();
    const item = el('li', 'layer-item');
    const row = el('label', 'layer-row');
    row.dataset.layerId = layer.id;
    row.dataset.testid = 'layer-item';
    const tip = [pick(layer.description, lang), `${t('department')}: ${layer.department}`];
    row.title = tip.filter(Boolean).join('\n');

    const box = el('input', 'layer-check');
    box.type = 'checkbox';
    box.checked = this.isVisible(layer.id);
    box.dataset.layerId = layer.id;
    box.addEventListener('change', () => this.setLayerVisible(layer, box.checked));

    const swatch = el('span', `swatch swatch-${layer.geometry}`);
    swatch.setAttribute('aria-hidden', 'true');
    const colors = swatchColors(layer);
    if (colors.length === 1) swatch.style.setProperty('--swatch', colors[0] ?? '');
    else if (colors.length > 1) {
      const step = 100 / colors.length;
      const stops = colors.map((c, i) => `${c} ${i * step}% ${(i + 1) * step}%`).join(', ');
      swatch.style.setProperty('--swatch', `linear-gradient(90deg, ${stops})`);
    }
    const outline = layer.geometry === 'polygon' ? swatchOutline(layer) : undefined;
    if (outline) swatch.style.setProperty('--swatch-outline', outline);

    const names = el('span', 'layer-names');
    names.append(el('span', 'name-main', pick(layer.title, lang)), el('span', 'name-sub', pick(layer.title, otherLang(lang))));

    const tags = el('span', 'layer-tags');
    if (layer.synthetic) {
      const badge = el('span', 'badge-synthetic', `${t('synthetic', lang)} ${t('synthetic', otherLang(lang))}`);
      badge.title = t('syntheticTitle');
      tags.append(badge);
    }
    const hint = el('span', 'zoom-hint');
    tags.append(hint);

    row.append(box, swatch, names, tags);
    row.classList.toggle('off', !box.checked);
    item.append(row);
    this.rows.push({ layer, row, hint });
    return item;
  }

  private updateZoomHints(): void {
    const zoom = this.map?.getZoom() ?? 0;
    for (const { layer, row, hint } of this.rows) {
      const below = zoom < layer.minzoom;
      const above = zoom >= layer.maxzoom;
      row.classList.toggle('out-of-zoom', below || above);
      hint.textContent = below ? t('zoomIn') : above ? t('zoomOut') : '';
      hint.title = below || above ? `z${layer.minzoom}–${layer.maxzoom}` : '';
    }
  }
}
