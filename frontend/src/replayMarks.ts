/**
 * Where a replay window has something to show: the stretches with vehicle fixes and the
 * instants of alarms, drawn as marks under the time slider, and the first of them, where the
 * replay starts (not on an empty stretch at the window's start).
 */

import type { Alarm } from './alarmStore';
import { MAX_GAP_MS, type ReplayVehicle } from './replayData';
import { el } from './desk/dom';

export interface ReplayMarks {
  /** [start, end] epoch ms stretches with fixes (merged over vehicles; split at long gaps). */
  data: [number, number][];
  /** Epoch ms of each alarm's start. */
  alarms: number[];
}

function alarmTime(alarm: Alarm): number {
  return Date.parse(alarm.started_at ?? alarm.raised_at ?? '');
}

export function replayMarks(vehicles: ReplayVehicle[], alarms: Alarm[]): ReplayMarks {
  const spans: [number, number][] = [];
  for (const v of vehicles) {
    let span: [number, number] | null = null;
    for (const [t] of v.points) {
      if (span && t - span[1] <= MAX_GAP_MS) span[1] = t;
      else spans.push((span = [t, t]));
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  const data: [number, number][] = [];
  for (const s of spans) {
    const last = data[data.length - 1];
    if (last && s[0] <= last[1] + MAX_GAP_MS) last[1] = Math.max(last[1], s[1]);
    else data.push([s[0], s[1]]);
  }
  const times = alarms.map(alarmTime).filter(Number.isFinite).sort((a, b) => a - b);
  return { data, alarms: times };
}

/** The first instant with data or an alarm within [from, to]; `from` when there is none. */
export function firstMark(marks: ReplayMarks, from: number, to: number): number {
  const first = Math.min(marks.data[0]?.[0] ?? Infinity, marks.alarms[0] ?? Infinity);
  return Number.isFinite(first) ? Math.min(to, Math.max(from, first)) : from;
}

/** Draws `marks` into `track` (laid under the slider) for the window [from, to]. */
export function drawMarks(track: HTMLElement, marks: ReplayMarks, from: number, to: number): void {
  const span = Math.max(1, to - from);
  const at = (t: number): number => Math.min(100, Math.max(0, ((t - from) / span) * 100));
  const parts: HTMLElement[] = [];
  for (const [a, b] of marks.data) {
    const bar = el('span', 'replay-mark-data');
    bar.style.left = `${at(a)}%`;
    bar.style.width = `max(2px, ${at(b) - at(a)}%)`;
    parts.push(bar);
  }
  for (const t of marks.alarms) {
    const tick = el('span', 'replay-mark-alarm');
    tick.style.left = `${at(t)}%`;
    parts.push(tick);
  }
  track.replaceChildren(...parts);
}
