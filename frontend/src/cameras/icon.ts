/**
 * The camera icon, drawn on a canvas and turned into a signed distance field (the TinySDF
 * encoding MapLibre expects: 0.75 alpha at the edge), so one image takes any colour
 * (`icon-color` by status) and a dark halo, and stays crisp at a 4K wall's icon sizes. No file,
 * no external asset.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';
import { CAMERA_ICON } from './types';

const SIZE = 64; // drawn at 2x: pixelRatio 2 makes it 32 css px at icon-size 1
const RADIUS = 8; // distance field reach in pixels
const CUTOFF = 0.25;

/** A video camera seen from the side: a rounded body and a lens cone to the right. */
function drawShape(ctx: CanvasRenderingContext2D): void {
  const pad = RADIUS + 2;
  const inner = SIZE - 2 * pad;
  ctx.fillStyle = '#fff';
  ctx.beginPath();
  const bodyW = inner * 0.62;
  const bodyH = inner * 0.5;
  const top = pad + (inner - bodyH) / 2;
  ctx.roundRect(pad, top, bodyW, bodyH, inner * 0.1);
  ctx.fill();
  ctx.beginPath();
  ctx.moveTo(pad + bodyW - 1, top + bodyH * 0.5);
  ctx.lineTo(pad + inner, top - bodyH * 0.05);
  ctx.lineTo(pad + inner, top + bodyH * 1.05);
  ctx.closePath();
  ctx.fill();
}

/** The shape's SDF as RGBA (white, distance in alpha). */
export function cameraSdf(): ImageData {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = SIZE;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2d canvas');
  drawShape(ctx);
  const mask = ctx.getImageData(0, 0, SIZE, SIZE).data;
  const inside = (x: number, y: number): boolean => mask[(y * SIZE + x) * 4 + 3]! >= 128;
  const out = ctx.createImageData(SIZE, SIZE);
  for (let y = 0; y < SIZE; y += 1) {
    for (let x = 0; x < SIZE; x += 1) {
      const own = inside(x, y);
      let best = RADIUS * RADIUS;
      for (let dy = -RADIUS; dy <= RADIUS; dy += 1) {
        const yy = y + dy;
        if (yy < 0 || yy >= SIZE) continue;
        for (let dx = -RADIUS; dx <= RADIUS; dx += 1) {
          const xx = x + dx;
          if (xx < 0 || xx >= SIZE || inside(xx, yy) === own) continue;
          best = Math.min(best, dx * dx + dy * dy);
        }
      }
      const d = (own ? -1 : 1) * (Math.sqrt(best) - 0.5);
      const value = Math.round(255 - 255 * (d / RADIUS + CUTOFF));
      const i = (y * SIZE + x) * 4;
      out.data[i] = out.data[i + 1] = out.data[i + 2] = 255;
      out.data[i + 3] = Math.max(0, Math.min(255, value));
    }
  }
  return out;
}

/** Adds the icon to the map's style once (the catalog's cameras layer names it). */
export function addCameraIcon(map: MapLibreMap): void {
  if (map.hasImage(CAMERA_ICON)) return;
  map.addImage(CAMERA_ICON, cameraSdf(), { sdf: true, pixelRatio: 2 });
}
