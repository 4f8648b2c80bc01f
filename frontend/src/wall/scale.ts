/**
 * The wall's integer scale and layout preset. Everything is sized in rem and the root font size
 * is k x 16 px with k = floor(min(W/1920, H/1080)): a 3840x2160 screen is exactly 2x the 1080p
 * design, never a fractional CSS transform that would blur text or the map canvas (MapLibre
 * renders at the screen's own resolution). Spliced walls get more panel columns beside the map:
 * chosen from the screen's shape, or forced with `?preset=`.
 */

export interface Preset {
  name: string;
  /** The screen size the preset is drawn for (CSS pixels). */
  width: number;
  height: number;
  /** Panel columns on each side of the map. */
  sideColumns: number;
}

export const DESIGN = { width: 1920, height: 1080, rootPx: 16 } as const;

export const PRESETS: readonly Preset[] = [
  { name: '1080p', width: 1920, height: 1080, sideColumns: 1 },
  { name: '4k', width: 3840, height: 2160, sideColumns: 1 },
  { name: '5760x1080', width: 5760, height: 1080, sideColumns: 2 },
  { name: '7680x2160', width: 7680, height: 2160, sideColumns: 2 },
];

export interface Layout {
  k: number;
  preset: Preset;
  /** True when `?preset=` chose it. */
  forced: boolean;
}

/** k = floor(min(W/1920, H/1080)), at least 1. */
export function scaleFactor(width: number, height: number): number {
  return Math.max(1, Math.floor(Math.min(width / DESIGN.width, height / DESIGN.height)));
}

/** The preset named in the URL, else the one whose shape is nearest the screen's. */
export function chooseLayout(width: number, height: number, search = location.search): Layout {
  const k = scaleFactor(width, height);
  const asked = new URLSearchParams(search).get('preset');
  const named = PRESETS.find((p) => p.name === asked);
  if (named) return { k, preset: named, forced: true };
  const ratio = width / height;
  const nearest = [...PRESETS].sort(
    (a, b) => Math.abs(Math.log(a.width / a.height / ratio)) - Math.abs(Math.log(b.width / b.height / ratio))
      || Math.abs(a.width - width) - Math.abs(b.width - width),
  )[0] ?? PRESETS[0]!;
  return { k, preset: nearest, forced: false };
}

/** Applies k and the preset to the document (root font size, data attributes the CSS reads). */
export function applyLayout(layout: Layout, root: HTMLElement = document.documentElement): void {
  root.style.fontSize = `${layout.k * DESIGN.rootPx}px`;
  root.style.setProperty('--k', String(layout.k));
  root.style.setProperty('--side-columns', String(layout.preset.sideColumns));
  root.dataset.preset = layout.preset.name;
  root.dataset.k = String(layout.k);
}
