/**
 * What the floating panels cover of the map, measured from their boxes (not assumed from CSS):
 * the 全县 fit pads the county away from them, and a free-floating panel (KPI) is placed
 * between them so that it never covers the alarm list or the map's controls.
 */

export interface Covered {
  /** Pixels covered from the map's left edge (the layer panel, the desk). */
  left: number;
  /** Pixels covered from the map's right edge (the alarm list, the KPI panel). */
  right: number;
}

function shown(node: Element): boolean {
  return node.getClientRects().length > 0;
}

/** The visible, unfolded `.panel`s over `map` (a folded one is a small title bar). */
function panels(stage: HTMLElement, except?: Element): DOMRect[] {
  const boxes: DOMRect[] = [];
  for (const node of stage.querySelectorAll('.panel')) {
    if (node === except || node.classList.contains('collapsed') || !shown(node)) continue;
    boxes.push(node.getBoundingClientRect());
  }
  return boxes;
}

/** The widths the panels cover on each side of `map` (a panel's side is where its centre is). */
export function coveredSides(map: HTMLElement, stage: HTMLElement, except?: Element): Covered {
  const area = map.getBoundingClientRect();
  const middle = area.left + area.width / 2;
  const out: Covered = { left: 0, right: 0 };
  for (const box of panels(stage, except)) {
    if (box.left + box.width / 2 < middle) out.left = Math.max(out.left, box.right - area.left);
    else out.right = Math.max(out.right, area.right - box.left);
  }
  return out;
}

/**
 * Places `panel` (absolutely positioned in `stage`) between the panels docked on the left and
 * the right-hand column (the alarm list and the map's top-right controls), at most `maxWidth`
 * wide. Where there is too little room it keeps the right column clear and overlaps the left.
 */
export function placeBetween(panel: HTMLElement, map: HTMLElement, stage: HTMLElement,
                             gap: number, maxWidth: number, minWidth: number): void {
  const area = stage.getBoundingClientRect();
  const covered = coveredSides(map, stage, panel);
  const controls = map.querySelector('.maplibregl-ctrl-top-right');
  let right = covered.right;
  if (controls && shown(controls)) {
    right = Math.max(right, area.right - controls.getBoundingClientRect().left);
  }
  const rightPx = right + gap;
  const room = area.width - rightPx - covered.left - gap;
  const width = Math.max(Math.min(maxWidth, room), Math.min(minWidth, area.width - rightPx - gap));
  panel.style.right = `${Math.round(rightPx)}px`;
  panel.style.left = 'auto';
  panel.style.width = `${Math.max(0, Math.round(width))}px`;
}
