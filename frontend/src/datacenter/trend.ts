/** A small SVG line of a score over days (0..100), with the latest value as a dot. */

import { band, score100 } from './ui';

const NS = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

export function trendSvg(points: { day: string; total: number }[], title: string): SVGSVGElement {
  const width = 240;
  const height = 64;
  const pad = 4;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'dc-trend', role: 'img', 'aria-label': title });
  root.dataset.testid = 'score-trend';
  const t = svg('title', {});
  t.textContent = title;
  root.append(t);
  for (const level of [60, 75, 90]) {
    const y = pad + (1 - level / 100) * (height - 2 * pad);
    root.append(svg('line', { x1: 0, x2: width, y1: y, y2: y, class: 'dc-trend-grid' }));
  }
  const values = points.map((p) => score100(p.total) ?? 0);
  if (!values.length) return root;
  const x = (i: number): number => (values.length === 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (values.length - 1));
  const y = (v: number): number => pad + (1 - Math.max(0, Math.min(100, v)) / 100) * (height - 2 * pad);
  const d = values.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  root.append(svg('path', { d, class: 'dc-trend-line' }));
  const last = values.length - 1;
  root.append(svg('circle', { cx: x(last), cy: y(values[last] ?? 0), r: 3, class: `dc-trend-dot dc-score-${band(values[last])}` }));
  return root;
}
