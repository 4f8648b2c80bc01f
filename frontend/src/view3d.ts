/**
 * The 2D/3D switch and the "whole county" button, as a MapLibre control under the navigation
 * control. 3D tilts the map so that extruded layers (buildings) stand up; 2D looks straight down.
 */

import type { IControl, Map as MapLibreMap } from 'maplibre-gl';
import { onLangChange, t } from './i18n';

export const PITCH_3D = 60;
export const BEARING_3D = -20;
const EASE_MS = 1000;
/** Above this pitch the view counts as 3D (also when tilted by right-drag or ctrl-drag). */
const TILTED = 5;

export type ViewMode = '2d' | '3d';

export class ViewControl implements IControl {
  private map: MapLibreMap | null = null;
  private container: HTMLElement | null = null;
  private modeButton: HTMLButtonElement | null = null;
  private homeButton: HTMLButtonElement | null = null;
  private unsubscribe: (() => void) | null = null;

  /** `home` moves the map back to the whole county. */
  constructor(private readonly home: () => void) {}

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

    const homeButton = document.createElement('button');
    homeButton.type = 'button';
    homeButton.className = 'view-home';
    homeButton.dataset.testid = 'view-home';
    homeButton.addEventListener('click', () => this.home());

    container.append(modeButton, homeButton);
    this.container = container;
    this.modeButton = modeButton;
    this.homeButton = homeButton;
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
    const button = this.modeButton;
    if (!button || button.dataset.mode === this.mode) return;
    this.render();
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
  }
}
