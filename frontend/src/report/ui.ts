/** Small DOM helpers for the phone page: elements, a toast line, and photo preparation. */

import type { Key } from './i18n';

type Attrs = Record<string, string | number | boolean | undefined>;

/** An element with a class, attributes (`t` sets data-t for the translated text) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs & { t?: Key } = {},
  ...children: Array<Node | string | null | undefined | false>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name === 't') node.dataset.t = String(value);
    else if (name === 'class') node.className = String(value);
    else if (name === 'testid') node.dataset.testid = String(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

let toastBox: HTMLElement | null = null;
let toastTimer: ReturnType<typeof setTimeout> | undefined;

export function initToast(host: HTMLElement): void {
  toastBox = h('div', { class: 'rp-toast', role: 'status', 'aria-live': 'polite', testid: 'toast' });
  toastBox.hidden = true;
  toastBox.addEventListener('click', () => {
    if (toastBox) toastBox.hidden = true; // a tap clears it off the buttons beneath
  });
  host.append(toastBox);
}

export function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  if (!toastBox) return;
  toastBox.textContent = text;
  toastBox.dataset.kind = kind;
  toastBox.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    if (toastBox) toastBox.hidden = true;
  }, 4000);
}

const MAX_SIDE = 2048; // pixels on the long side of a photo sent over a slow network
const SHRINK_ABOVE = 1_500_000; // bytes

/**
 * A photo small enough for a slow network: one larger than 1.5 MB or 2048 px is redrawn at
 * most 2048 px on its long side as a JPEG (upright: the browser applies the EXIF orientation).
 * Redrawing drops the EXIF block, GPS included; the case carries the page's own position.
 * Anything the browser cannot decode is kept as it is: the server judges it.
 */
export async function prepare(file: File): Promise<File> {
  if (!file.type.startsWith('image/') || typeof createImageBitmap !== 'function') return file;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return file;
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  if (file.size <= SHRINK_ABOVE && scale === 1) {
    bitmap.close();
    return file;
  }
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d')?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
  if (!blob) return file;
  return new File([blob], `${file.name.replace(/\.[^.]*$/, '') || 'photo'}.jpg`, { type: 'image/jpeg' });
}

/** Local time, short: 11-24 08:05. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
