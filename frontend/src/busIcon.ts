/**
 * The bus marker, drawn at runtime: a navigation arrow (north = heading 0),
 * rendered into a signed distance field so that MapLibre can colour it by status (`icon-color`)
 * and outline it (`icon-halo-*`). No image file is loaded.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';

export const BUS_ICON = 'cityops-bus';
const SIZE = 64; // pixels of the image; shown at pixelRatio 2, i.e. 32 CSS px at icon-size 1
const PIXEL_RATIO = 2;
// TinySDF's encoding, which MapLibre's SDF shader expects: the edge at 0.75 (192/255),
// 8 image pixels of distance across the ramp on each side.
const RADIUS = 8;
const CUTOFF = 0.25;

function drawShape(ctx: CanvasRenderingContext2D): void {
  // A navigation arrow: a broad chevron pointing north with a notch at its back.
  const s = SIZE;
  ctx.fillStyle = '#000';
  ctx.lineJoin = 'round';
  ctx.lineWidth = s * 0.06;
  ctx.strokeStyle = '#000';
  ctx.beginPath();
  ctx.moveTo(s * 0.5, s * 0.12);
  ctx.lineTo(s * 0.8, s * 0.84);
  ctx.lineTo(s * 0.5, s * 0.68);
  ctx.lineTo(s * 0.2, s * 0.84);
  ctx.closePath();
  ctx.fill();
  ctx.stroke(); // rounds the corners
}

/** A signed distance field of the shape, as RGBA pixels (only alpha matters for SDF icons). */
export function busIconImage(): ImageData {
  const canvas = document.createElement('canvas');
  canvas.width = SIZE;
  canvas.height = SIZE;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas');
  drawShape(ctx);
  const source = ctx.getImageData(0, 0, SIZE, SIZE).data;
  const inside = new Uint8Array(SIZE * SIZE);
  for (let i = 0; i < inside.length; i++) inside[i] = (source[i * 4 + 3] ?? 0) >= 128 ? 1 : 0;

  const out = new ImageData(SIZE, SIZE);
  const reach = RADIUS + 1;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const me = inside[y * SIZE + x];
      let best = reach * reach;
      for (let dy = -reach; dy <= reach; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= SIZE) continue;
        for (let dx = -reach; dx <= reach; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= SIZE) continue;
          if (inside[yy * SIZE + xx] !== me) {
            const d = dx * dx + dy * dy;
            if (d < best) best = d;
          }
        }
      }
      // distance to the edge, half a pixel between neighbours of different state
      const dist = Math.sqrt(best) - 0.5;
      const signed = me ? -dist : dist;
      const value = 255 - 255 * (signed / RADIUS + CUTOFF);
      const o = (y * SIZE + x) * 4;
      out.data[o] = 255;
      out.data[o + 1] = 255;
      out.data[o + 2] = 255;
      out.data[o + 3] = Math.max(0, Math.min(255, Math.round(value)));
    }
  }
  return out;
}

/** Adds the icon to the map (again after a style change); idempotent. */
export function addBusIcon(map: MapLibreMap): void {
  if (map.hasImage(BUS_ICON)) return;
  map.addImage(BUS_ICON, busIconImage(), { sdf: true, pixelRatio: PIXEL_RATIO });
}
