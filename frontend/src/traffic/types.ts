/**
 * The traffic API's records as the console reads them (`/api/traffic/*`, hub channels
 * `traffic.segments` and `traffic.alerts`), and the congestion levels: 0 unknown (too few
 * vehicles, never guessed), 1 畅通 ... 5 严重拥堵, with their colours.
 */

import type { Bilingual } from '../i18n';

export const SEGMENTS_CHANNEL = 'traffic.segments';
export const ALERTS_CHANNEL = 'traffic.alerts';
export const POSITIONS_CHANNEL = 'vehicles.positions';

export type Level = 0 | 1 | 2 | 3 | 4 | 5;
export const LEVELS: Level[] = [1, 2, 3, 4, 5, 0];

/** Green to red, unknown grey; readable on the dark map and on each other at 4K. */
export const LEVEL_COLORS: Record<Level, string> = {
  0: '#6f7f8f',
  1: '#2ecc40',
  2: '#a3e048',
  3: '#ffdc00',
  4: '#ff851b',
  5: '#e8202a',
};

export const LEVEL_NAMES: Record<Level, Bilingual> = {
  0: { zh: '未知', en: 'Unknown' },
  1: { zh: '畅通', en: 'Free flow' },
  2: { zh: '基本畅通', en: 'Mostly free' },
  3: { zh: '轻度拥堵', en: 'Light congestion' },
  4: { zh: '中度拥堵', en: 'Moderate congestion' },
  5: { zh: '严重拥堵', en: 'Severe congestion' },
};

/** A level from anything the server sent (out of range or missing: unknown). */
export function levelOf(value: unknown): Level {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 5 ? (value as Level) : 0;
}

export interface SegmentProps {
  segment: number;
  road_id: number;
  forward: boolean;
  name: string | null;
  road_class: string;
  length_m: number;
  pilot_code: string | null;
  speed_kmh: number | null;
  typical_kmh: number | null;
  vehicles: number;
  level: Level;
}

export type SegmentCollection = GeoJSON.FeatureCollection<GeoJSON.LineString | GeoJSON.MultiLineString, SegmentProps>;

/** One segment's update in a `traffic.segments` event. */
export interface SegmentUpdate {
  segment: number;
  level: number;
  speed_kmh: number | null;
  vehicles: number;
}

export interface TrafficIndex {
  time: string | null;
  seat: { tpi: number | null; level: number };
  townships: { code: string; name: string; tpi: number | null; level: number }[];
}

export type AlertKind = 'congestion' | 'slow' | 'accident';
export type AlertStatus = 'active' | 'acknowledged' | 'cleared' | 'closed';

export interface TrafficAlert {
  id: number;
  kind: AlertKind;
  segment: number | null;
  pilot_code: string | null;
  name: string | null;
  status: AlertStatus;
  level: number;
  speed_kmh: number | null;
  typical_kmh: number | null;
  started_at: string;
  updated_at: string | null;
  cleared_at: string | null;
  acknowledged_by: string | null;
  closed_by: string | null;
  lon: number | null;
  lat: number | null;
  headline_zh: string | null;
  headline_en: string | null;
  /** What an officer may still do (the server's word; absent from older servers). */
  allowed_actions?: string[];
}

export interface PilotSegment {
  code: string;
  name: string;
  road_name: string | null;
  direction: string | null;
  segments: number[];
  speed_kmh: number | null;
  typical_kmh: number | null;
  level: number;
  length_m: number | null;
}

export interface HistoryBucket {
  start: string;
  speed_kmh: number | null;
  vehicles: number;
  level: number;
  typical_kmh: number | null;
}

export interface SegmentHistory {
  segment: number;
  buckets: HistoryBucket[];
}

export interface ReplayPayload {
  buckets: { start: string; levels: Record<string, number> }[];
}

export function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The county's time zone: the API's days and time-of-week slots are local to it. */
export const COUNTY_TZ = 'Asia/Shanghai';

/** The county's calendar day at `ms` as YYYY-MM-DD (the API's `date`), wherever the browser is. */
export function localDate(ms: number = Date.now()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: COUNTY_TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
}
