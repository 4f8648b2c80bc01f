/**
 * The layer panel: the catalog grouped by domain (in the catalog's domain order, each group
 * foldable), a checkbox per layer, the imagery base switch (影像) over the layers the catalog
 * marks `basemap: imagery`, an opacity slider per raster layer, and a hint when the map's zoom
 * is outside a layer's range. Live layers (kind live) toggle what the live modules draw. What
 * the user sets is kept per user (prefs.ts). No layer id is known here: all comes from the catalog.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';
import { groupByDomain, styleLayerIds, type Catalog, type CatalogLayer } from './catalog';
import { el } from './dom';
import { getLang, onLangChange, otherLang, pick, t } from './i18n';
import { layerRow, type LayerRow } from './layerRow';
import { isRaster } from './mapLayers';
import type { GroundOpacity } from './opacity';
import type { PanelPrefs } from './prefs';

export const IMAGERY_BASEMAP = 'imagery';

export interface PanelOptions {
  prefs: PanelPrefs;
  opacity: GroundOpacity;
  /** Shows or hides what a live layer draws (its `channel`). */
  onLive?: (layer: CatalogLayer, visible: boolean) => void;
}

type VisibilityListener = (layer: CatalogLayer, visible: boolean) => void;

/** The collapsible frame of the panel; the list inside is filled once the catalog is loaded. */
export class LayerPanel {
  private readonly header: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly collapseButton: HTMLButtonElement;
  private readonly body: HTMLElement;
  private readonly visible = new Map<string, boolean>();
  private rows: LayerRow[] = [];
  private imagerySwitch: HTMLInputElement | null = null;
  private catalog: Catalog | null = null;
  private options: PanelOptions | null = null;
  private failed = false;
  private map: MapLibreMap | null = null;
  private zoomFrame = 0;
  private readonly listeners = new Set<() => void>();
  private readonly visibilityListeners = new Set<VisibilityListener>();

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

  /** Called when a layer is switched on or off (by its checkbox, the imagery switch or code). */
  onVisibility(listener: VisibilityListener): void {
    this.visibilityListeners.add(listener);
  }

  /** The catalog's layers that the imagery base switch shows and hides together. */
  get imageryLayers(): CatalogLayer[] {
    return this.catalog?.layers.filter((l) => l.basemap === IMAGERY_BASEMAP && l.available) ?? [];
  }

  /** Fills the panel from the catalog and keeps it in step with the map. */
  attach(map: MapLibreMap, catalog: Catalog, options: PanelOptions): void {
    this.map = map;
    this.catalog = catalog;
    this.options = options;
    this.failed = false;
    for (const layer of catalog.layers) this.visible.set(layer.id, options.prefs.visible(layer.id, layer.visible));
    for (const layer of catalog.layers.filter((l) => l.kind === 'live')) options.onLive?.(layer, this.isVisible(layer.id));
    this.renderList();
    map.on('zoom', () => {
      if (this.zoomFrame) return;
      this.zoomFrame = requestAnimationFrame(() => {
        this.zoomFrame = 0;
        this.updateZoomHints();
      });
    });
  }

  /** Shows or hides a layer; `persist` keeps the choice as the user's (false for temporary
   *  changes such as 3D turning the relief on). */
  setLayerVisible(layer: CatalogLayer, visible: boolean, persist = true): void {
    this.visible.set(layer.id, visible);
    if (persist) this.options?.prefs.setVisible(layer.id, visible);
    const map = this.map;
    if (!map) return;
    if (layer.kind === 'live') this.options?.onLive?.(layer, visible);
    for (const id of styleLayerIds(layer)) {
      if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    }
    const row = this.rows.find((r) => r.layer.id === layer.id);
    if (row) {
      row.box.checked = visible;
      row.row.classList.toggle('off', !visible);
    }
    this.syncImagerySwitch();
    for (const listener of this.visibilityListeners) listener(layer, visible);
  }

  /** The imagery base: on when any of its layers is on; switching sets them all. */
  setImagery(on: boolean): void {
    for (const layer of this.imageryLayers) this.setLayerVisible(layer, on);
  }

  get imageryOn(): boolean {
    return this.imageryLayers.some((l) => this.isVisible(l.id));
  }

  private syncImagerySwitch(): void {
    if (this.imagerySwitch) this.imagerySwitch.checked = this.imageryOn;
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
    this.rows = [];
    const groups = groupByDomain(catalog);
    if (!groups.length) {
      this.body.replaceChildren(el('p', 'panel-note', t('layersEmpty')));
      return;
    }
    const sections = groups.map(({ domain, layers }) => this.renderGroup(domain, layers));
    const base = this.renderImagerySwitch();
    this.body.replaceChildren(...(base ? [base] : []), ...sections);
    this.updateZoomHints();
  }

  private renderImagerySwitch(): HTMLElement | null {
    this.imagerySwitch = null;
    if (!this.imageryLayers.length) return null;
    const lang = getLang();
    const row = el('label', 'base-switch');
    const box = el('input', 'base-switch-input');
    box.type = 'checkbox';
    box.setAttribute('role', 'switch');
    box.dataset.testid = 'imagery-switch';
    box.checked = this.imageryOn;
    box.addEventListener('change', () => this.setImagery(box.checked));
    const names = el('span', 'layer-names');
    names.append(el('span', 'name-main', t('imageryBase', lang)), el('span', 'name-sub', t('imageryBase', otherLang(lang))));
    row.title = t('imageryBaseTitle', lang);
    row.append(box, el('span', 'switch-track'), names);
    this.imagerySwitch = box;
    return row;
  }

  private renderGroup(domain: string, layers: CatalogLayer[]): HTMLElement {
    const catalog = this.catalog;
    const lang = getLang();
    const section = el('section', 'domain');
    section.dataset.domain = domain;
    section.dataset.testid = 'layer-group';
    const folded = this.options?.prefs.folded(domain) ?? false;
    section.classList.toggle('folded', folded);
    const title = el('h3', 'domain-title');
    const toggle = el('button', 'domain-toggle');
    toggle.type = 'button';
    toggle.setAttribute('aria-expanded', String(!folded));
    const names = catalog?.domains.find((d) => d.id === domain) ?? { zh: domain, en: domain };
    toggle.append(
      el('span', 'domain-chevron'),
      el('span', 'name-main', pick(names, lang)),
      el('span', 'name-sub', pick(names, otherLang(lang))),
      el('span', 'domain-count', String(layers.length)),
    );
    const list = el('ul', 'layer-list');
    list.id = `layer-group-${domain}`;
    toggle.setAttribute('aria-controls', list.id);
    toggle.addEventListener('click', () => {
      const now = !section.classList.contains('folded');
      section.classList.toggle('folded', now);
      toggle.setAttribute('aria-expanded', String(!now));
      this.options?.prefs.setFolded(domain, now);
    });
    title.append(toggle);
    for (const layer of layers) {
      const row = layerRow(layer, {
        checked: this.isVisible(layer.id),
        opacity: this.options?.opacity.opacity(layer.id) ?? 1,
        onToggle: (visible) => this.setLayerVisible(layer, visible),
        onOpacity: (opacity) => {
          this.options?.opacity.setOpacity(layer.id, opacity);
          this.options?.prefs.setOpacity(layer.id, opacity);
        },
      });
      this.rows.push(row);
      list.append(row.item);
    }
    section.append(title, list);
    return section;
  }

  private updateZoomHints(): void {
    const zoom = this.map?.getZoom() ?? 0;
    for (const { layer, row, hint } of this.rows) {
      if (layer.kind === 'live') continue;
      const below = zoom < layer.minzoom;
      const above = !isRaster(layer) && zoom >= layer.maxzoom; // rasters show overzoomed
      row.classList.toggle('out-of-zoom', below || above);
      hint.textContent = below ? t('zoomIn') : above ? t('zoomOut') : '';
      hint.title = below || above ? `z${layer.minzoom}–${layer.maxzoom}` : '';
    }
  }
}
