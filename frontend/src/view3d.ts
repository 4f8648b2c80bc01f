/**
 * The 2D/3D switch, the 地下 (underground) toggle and the "whole county" button, as a MapLibre
 * control under the navigation control. 3D tilts the map so that extruded layers (buildings)
 * stand up and the terrain has relief (its exaggeration is stated under the buttons); 2D looks
 * straight down. The underground toggle exists only in 3D (leaving 3D turns it off).
 */

import type { IControl, Map as MapLibreMap } from 'maplibre-gl';
import { onLangChange, t } from './i18n';

export const PITCH_3D = 60;
export const BEARING_3D = -20;
const EASE_MS = 1000;
/** Above this pitch the view counts as 3D (also when tilted by right-drag or ctrl-drag). */
const TILTED = 5;

export type ViewMode = '2d' | '3d';

export interface ViewListeners {
  /** The view changed between 2D and 3D (also by tilting with the mouse). */
  mode?: (mode: ViewMode) => void;
  /** The underground toggle changed. */
  underground?: (on: boolean) => void;
}

export class ViewControl implements IControl {
  private map: MapLibreMap | null = null;
  private container: HTMLElement | null = null;
  private modeButton: HTMLButtonElement | null = null;
  private homeButton: HTMLButtonElement | null = null;
  private undergroundButton: HTMLButtonElement | null = null;
  private note: HTMLElement | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastMode: ViewMode = '2d';
  private underground = false;
  private exaggeration: number | null = null;
  private undergroundAvailable = false;
  private readonly listeners: ViewListeners[] = [];

  /** `home` moves the map back to the whole county. */
  constructor(private readonly home: () => void) {}

  listen(listeners: ViewListeners): void {
    this.listeners.push(listeners);
  }

  /** States the relief's vertical exaggeration in 3D (null: no terrain, nothing to state). */
  setExaggeration(factor: number | null): void {
    this.exaggeration = factor;
    this.render();
  }

  /** Whether there is anything below ground to show (the toggle is offered only then). */
  setUndergroundAvailable(available: boolean): void {
    this.undergroundAvailable = available;
    if (!available) this.setUnderground(false);
    this.render();
  }

  get undergroundOn(): boolean {
    return this.underground;
  }

  setUnderground(on: boolean): void {
    const next = on && this.mode === '3d' && this.undergroundAvailable;
    if (next === this.underground) return;
    this.underground = next;
    this.render();
    for (const l of this.listeners) l.underground?.(next);
  }

  get mode(): ViewMode {
    return (this.map?.getPitch() ?? 0) > TILTED ? '3d' : '2d';
  }

  setMode(mode: ViewMode): void {
    const map = this.map;
    if (!map) return;
    if (mode === '3d') map.easeTo({ pitch: PITCH_3D, bearing: BEARING_3D, duration: EASE_MS });
    else map.easeTo({ pitch: 0, bearing: 0, duration: EASE_MS });
  }

  onAdd(map: MapLibreMap): HTMLElement {
    this.map = map;
    const container = document.createElement('div');
    container.className = 'maplibregl-ctrl maplibregl-ctrl-group view-ctrl';

    const modeButton = document.createElement('button');
    modeButton.type = 'button';
    modeButton.className = 'view-mode';
    modeButton.dataset.testid = 'view-3d-toggle';
    const flat = document.createElement('span');
    flat.className = 'seg seg-2d';
    const tilted = document.createElement('span');
    tilted.className = 'seg seg-3d';
    modeButton.append(flat, tilted);
    modeButton.addEventListener('click', () => this.setMode(this.mode === '3d' ? '2d' : '3d'));

    const undergroundButton = document.createElement('button');
    undergroundButton.type = 'button';
    undergroundButton.className = 'view-underground';
    undergroundButton.dataset.testid = 'underground-toggle';
    undergroundButton.addEventListener('click', () => this.setUnderground(!this.underground));

    const homeButton = document.createElement('button');
    homeButton.type = 'button';
    homeButton.className = 'view-home';
    homeButton.dataset.testid = 'view-home';
    homeButton.addEventListener('click', () => this.home());

    const note = document.createElement('div');
    note.className = 'view-note';
    note.dataset.testid = 'relief-note';

    container.append(modeButton, undergroundButton, homeButton, note);
    this.container = container;
    this.modeButton = modeButton;
    this.homeButton = homeButton;
    this.undergroundButton = undergroundButton;
    this.note = note;
    map.on('pitch', this.sync);
    this.unsubscribe = onLangChange(() => this.render());
    this.render();
    return container;
  }

  onRemove(): void {
    this.map?.off('pitch', this.sync);
    this.unsubscribe?.();
    this.container?.remove();
    this.map = null;
  }

  private readonly sync = (): void => {
    const mode = this.mode;
    if (mode === this.lastMode) return;
    this.lastMode = mode;
    if (mode === '2d') this.setUnderground(false);
    this.render();
    for (const l of this.listeners) l.mode?.(mode);
  };

  private render(): void {
    const button = this.modeButton;
    if (!button) return;
    const mode = this.mode;
    button.dataset.mode = mode;
    button.setAttribute('aria-pressed', String(mode === '3d'));
    const [flat, tilted] = Array.from(button.children) as HTMLElement[];
    if (flat) flat.textContent = t('view2d');
    if (tilted) tilted.textContent = t('view3d');
    const label = mode === '3d' ? t('view2dTitle') : t('view3dTitle');
    button.title = label;
    button.setAttribute('aria-label', `2D / 3D: ${label}`);
    if (this.homeButton) {
      this.homeButton.textContent = t('home');
      this.homeButton.title = t('homeTitle');
    }
    const under = this.undergroundButton;
    if (under) {
      under.hidden = mode !== '3d' || !this.undergroundAvailable;
      under.textContent = t('underground');
      under.title = t(this.underground ? 'undergroundOffTitle' : 'undergroundOnTitle');
      under.setAttribute('aria-pressed', String(this.underground));
    }
    if (this.note) {
      const factor = this.exaggeration;
      this.note.hidden = mode !== '3d' || factor === null;
      this.note.textContent = factor === null ? '' : `${t('relief')} ×${factor}`;
      this.note.title = t('reliefTitle').replace('{n}', String(factor ?? ''));
    }
  }
}
