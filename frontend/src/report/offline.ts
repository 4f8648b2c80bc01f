/**
 * Installs the phone page's service worker (/report-sw.js, scope /report: the console is not
 * touched), which keeps the app shell and the small map for a start with no network. The map
 * requests made before the worker took control (the very first visit) are handed to it, so
 * that what the worker saw on screen the first time is there offline too.
 */

const MAP_PATHS = ['/api/layers', '/tiles/', '/glyphs/'];

declare global {
  interface Window {
    /** Set when the service worker controls the page, for end-to-end tests. */
    __reportOffline?: { ready: boolean; warmed: number };
  }
}

function mapRequestsSoFar(): string[] {
  return performance
    .getEntriesByType('resource')
    .map((e) => e.name)
    .filter((u) => {
      const url = new URL(u);
      return url.origin === location.origin && MAP_PATHS.some((p) => url.pathname.startsWith(p));
    });
}

export function installOffline(): void {
  const state = { ready: false, warmed: 0 };
  window.__reportOffline = state;
  // Service workers need a secure context (https, or http on 127.0.0.1/localhost).
  if (!('serviceWorker' in navigator) || !window.isSecureContext || import.meta.env.DEV) return;
  navigator.serviceWorker
    .register(new URL('report-sw.js', location.href), { scope: './report' })
    .then(() => navigator.serviceWorker.ready)
    .then((registration) => {
      const urls = mapRequestsSoFar();
      registration.active?.postMessage({ type: 'warm', urls });
      state.warmed = urls.length;
      state.ready = true;
    })
    .catch((err: unknown) => {
      // The page works without it, only not from a cold start offline.
      console.warn('service worker not installed:', err);
    });
}
