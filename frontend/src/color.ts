/**
 * Colours read from the catalog's MapLibre styles, for code that draws outside MapLibre
 * (deck.gl) or changes a colour's alpha: CSS colour strings parsed, and the small part of the
 * style expression language the catalog's colours use (`match` on `get`, literals).
 */

export type RGBA = [number, number, number, number];

const HEX = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;
const FUNC = /^(rgba?|hsla?)\(([^)]*)\)$/i;

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number): number => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
}

/** A CSS colour (#rgb, #rrggbb(aa), rgb(a)(), hsl(a)()) as 0-255 channels and alpha 0-1; null if not one. */
export function parseColor(text: string): RGBA | null {
  const value = text.trim();
  const hex = HEX.exec(value)?.[1];
  if (hex) {
    const full = hex.length <= 4 ? [...hex].map((c) => c + c).join('') : hex;
    const channels = full.match(/../g)?.map((pair) => parseInt(pair, 16)) ?? [];
    const [r = 0, g = 0, b = 0, a = 255] = channels;
    return [r, g, b, a / 255];
  }
  const func = FUNC.exec(value);
  if (!func) return null;
  const parts = (func[2] ?? '').split(/[\s,/]+/).filter(Boolean);
  const num = (part: string | undefined, scale: number): number =>
    part === undefined ? NaN : part.endsWith('%') ? (parseFloat(part) / 100) * scale : parseFloat(part);
  const alpha = parts[3] === undefined ? 1 : num(parts[3], 1);
  let rgb: [number, number, number];
  if (func[1]?.toLowerCase().startsWith('hsl')) {
    rgb = hslToRgb(parseFloat(parts[0] ?? ''), num(parts[1], 1), num(parts[2], 1));
  } else {
    rgb = [num(parts[0], 255), num(parts[1], 255), num(parts[2], 255)];
  }
  if (![...rgb, alpha].every(Number.isFinite)) return null;
  return [rgb[0], rgb[1], rgb[2], Math.min(1, Math.max(0, alpha))];
}

export function rgbaString([r, g, b, a]: RGBA): string {
  return `rgba(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)}, ${Number(a.toFixed(3))})`;
}

/** The colour `text` with its alpha multiplied by `factor` (the text itself if it is no colour). */
export function fadeColor(text: string, factor: number): string {
  const rgba = parseColor(text);
  if (!rgba) return text;
  return rgbaString([rgba[0], rgba[1], rgba[2], rgba[3] * factor]);
}

type Props = Record<string, unknown>;

/**
 * A function from a feature's properties to its colour, for a colour written as a literal or as
 * `['match', ['get', field], value, colour, ..., fallback]` (also with value lists). Anything
 * else gives `fallback`.
 */
export function colorExpression(expression: unknown, fallback: RGBA): (props: Props) => RGBA {
  if (typeof expression === 'string') {
    const color = parseColor(expression) ?? fallback;
    return () => color;
  }
  if (!Array.isArray(expression) || expression[0] !== 'match') return () => fallback;
  const input = expression[1] as unknown;
  const field = Array.isArray(input) && input[0] === 'get' && typeof input[1] === 'string' ? input[1] : null;
  if (!field) return () => fallback;
  const table = new Map<string, RGBA>();
  const arms = expression.slice(2);
  const otherwise = arms.length % 2 === 1 ? parseColor(String(arms[arms.length - 1])) ?? fallback : fallback;
  for (let i = 0; i + 1 < arms.length; i += 2) {
    const color = parseColor(String(arms[i + 1]));
    if (!color) continue;
    const labels = Array.isArray(arms[i]) ? (arms[i] as unknown[]) : [arms[i]];
    for (const label of labels) table.set(String(label), color);
  }
  return (props) => table.get(String(props[field])) ?? otherwise;
}
