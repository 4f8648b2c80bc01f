/**
 * The eight domains' views as the server publishes them (`GET /api/domains`, the figures of
 * `GET|POST /api/domains/{id}/figures`, and `domains.kpis` events): the shapes of the issue 14
 * contract, and the calls.
 */

import { getJSON, postJSON } from '../api';
import type { Bilingual } from '../i18n';

export const DOMAIN_KPIS_CHANNEL = 'domains.kpis';

export interface KpiDef {
  id: string;
  title: Bilingual;
  unit: Bilingual | null;
  better: 'up' | 'down' | 'none';
  decimals: number;
  reference: { kind: 'previous' | 'target' | 'county'; label: Bilingual } | null;
  map: { layer: string; filter: unknown } | null;
}

export interface ChartDef {
  id: string;
  type: 'bar' | 'line' | 'ranking' | 'pie';
  title: Bilingual;
  unit: Bilingual | null;
  map: { layer: string; field: string } | null;
}

export interface DomainView {
  id: string;
  title: Bilingual;
  department: { code: string; name: string } | null;
  synthetic: boolean;
  layers: string[];
  bbox: [number, number, number, number] | null;
  filters: string[];
  kpis: KpiDef[];
  charts: ChartDef[];
}

export interface Card {
  id: string;
  available: boolean;
  value: number | null;
  reference: number | null;
  change: number | null;
  change_pct: number | null;
  direction: 'up' | 'down' | 'flat' | null;
  level: 'ok' | 'warn' | 'alarm' | null;
  as_of: string | null;
  stale: boolean;
  stale_after_s: number | null;
  filtered: boolean;
  reason: string | null;
}

export interface ChartRow {
  label: string;
  value: number;
  series: string | null;
}

export interface ChartData {
  id: string;
  available: boolean;
  rows: ChartRow[];
  reason: string | null;
}

export interface Figures {
  domain: string;
  area: Record<string, unknown> | null;
  computed_at: string;
  cards: Card[];
  charts: ChartData[];
}

/** The area the figures are cut by (none: the county). */
export type Area =
  | { kind: 'bbox'; bbox: [number, number, number, number] }
  | { kind: 'township'; code: string; name: string }
  | { kind: 'grid'; code: string; name: string }
  | { kind: 'polygon'; polygon: GeoJSON.Polygon };

export async function fetchDomains(): Promise<{ carousel_s: number; domains: DomainView[] }> {
  return getJSON('/api/domains');
}

export async function fetchFigures(id: string, area: Area | null, signal?: AbortSignal): Promise<Figures> {
  const path = `/api/domains/${encodeURIComponent(id)}/figures`;
  if (area?.kind === 'polygon') {
    return (await postJSON<Figures>(path, { polygon: area.polygon })) as Figures;
  }
  const params = new URLSearchParams();
  if (area?.kind === 'bbox') params.set('bbox', area.bbox.map((v) => v.toFixed(5)).join(','));
  if (area?.kind === 'township') params.set('township', area.code);
  if (area?.kind === 'grid') params.set('grid', area.code);
  const query = params.toString();
  return getJSON(query ? `${path}?${query}` : path, signal ? { signal } : {});
}

/** The area as the snapshot and figures endpoints take it in a body. */
export function areaBody(area: Area | null): Record<string, unknown> | undefined {
  if (!area) return undefined;
  if (area.kind === 'bbox') return { bbox: area.bbox };
  if (area.kind === 'township') return { township: area.code };
  if (area.kind === 'grid') return { grid: area.code };
  return { polygon: area.polygon };
}
