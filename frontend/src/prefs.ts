/**
 * What a user set in the layer panel (layers on or off, raster opacities, folded domains, the
 * imagery base), kept per user name in localStorage so that two people sharing a wall PC each
 * find their own map. Storage may be disabled (kiosk policy): then the settings last the page.
 */

const PREFIX = 'cityops.panel.';

interface Stored {
  visible: Record<string, boolean>;
  opacity: Record<string, number>;
  folded: Record<string, boolean>;
}

function empty(): Stored {
  return { visible: {}, opacity: {}, folded: {} };
}

function record<T>(value: unknown, ok: (v: unknown) => v is T): Record<string, T> {
  const out: Record<string, T> = {};
  if (!value || typeof value !== 'object') return out;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) if (ok(item)) out[key] = item;
  return out;
}

const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isUnit = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v <= 1;

export class PanelPrefs {
  private readonly key: string;
  private state: Stored;

  /** `user`: the signed-in user's name (null on a server without login). */
  constructor(user: string | null) {
    this.key = PREFIX + (user ?? '-');
    this.state = this.read();
  }

  private read(): Stored {
    try {
      const raw = JSON.parse(localStorage.getItem(this.key) ?? 'null') as Partial<Stored> | null;
      if (!raw || typeof raw !== 'object') return empty();
      return {
        visible: record(raw.visible, isBool),
        opacity: record(raw.opacity, isUnit),
        folded: record(raw.folded, isBool),
      };
    } catch {
      return empty(); // unreadable or disabled storage: start from the catalog's defaults
    }
  }

  private write(): void {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.state));
    } catch {
      // not persisted; the setting still applies to this page
    }
  }

  visible(layerId: string, fallback: boolean): boolean {
    return this.state.visible[layerId] ?? fallback;
  }

  setVisible(layerId: string, visible: boolean): void {
    this.state.visible[layerId] = visible;
    this.write();
  }

  opacity(layerId: string, fallback: number): number {
    return this.state.opacity[layerId] ?? fallback;
  }

  setOpacity(layerId: string, opacity: number): void {
    this.state.opacity[layerId] = opacity;
    this.write();
  }

  folded(domain: string): boolean {
    return this.state.folded[domain] ?? false;
  }

  setFolded(domain: string, folded: boolean): void {
    this.state.folded[domain] = folded;
    this.write();
  }
}
