/**
 * The phone's position: one fix on demand (sent with case actions), and, when the worker
 * switches it on, their position sent every minute (POST /api/me/position) while the page is
 * open, so that dispatchers see who is near a case.
 */

import { postJSON } from './net';

const SHARE_KEY = 'cityops.report.sharePosition';
const SHARE_EVERY_MS = 60_000;

export interface Fix {
  lon: number;
  lat: number;
  accuracy_m: number;
  time: string;
}

/** A fix, or null when the phone has none within `timeoutMs` (or GPS is not allowed). */
export function currentFix(timeoutMs = 8_000, maxAgeMs = 60_000): Promise<Fix | null> {
  if (!('geolocation' in navigator)) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) =>
        resolve({
          lon: p.coords.longitude,
          lat: p.coords.latitude,
          accuracy_m: p.coords.accuracy,
          time: new Date(p.timestamp).toISOString(),
        }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: maxAgeMs },
    );
  });
}

export class PositionSharing {
  private timer: ReturnType<typeof setInterval> | undefined;
  lastSent: string | null = null;
  onSent: (() => void) | null = null;

  get enabled(): boolean {
    try {
      return localStorage.getItem(SHARE_KEY) === 'on';
    } catch {
      return false;
    }
  }

  set enabled(on: boolean) {
    try {
      localStorage.setItem(SHARE_KEY, on ? 'on' : 'off');
    } catch {
      // not remembered; applies to this page
    }
    this.apply(on);
  }

  start(): void {
    this.apply(this.enabled);
  }

  private apply(on: boolean): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!on) return;
    void this.sendOnce();
    this.timer = setInterval(() => void this.sendOnce(), SHARE_EVERY_MS);
  }

  private async sendOnce(): Promise<void> {
    if (!navigator.onLine) return;
    const fix = await currentFix(20_000, 30_000);
    if (!fix) return;
    try {
      await postJSON('/api/me/position', fix);
      this.lastSent = fix.time;
      this.onSent?.();
    } catch {
      // the next minute tries again
    }
  }
}
