/**
 * The phone page's service worker (/report-sw.js, scope /report): the page opens with no
 * network once it has been opened before.
 *
 * - The app shell (report.html, its JS and CSS chunks, the manifest and icons) is cached at
 *   install; the build writes the list (PRECACHE) and a version that changes with it, so a new
 *   build installs a new worker and drops the old caches.
 * - Opening /report or /report.html: the network first (a fresh page when online, with a
 *   short timeout for a weak signal), the cached shell otherwise.
 * - The small map's catalog (/api/layers), tiles and glyphs: the network first, a copy kept
 *   (at most MAX_MAP entries) for the next time there is none. The page also hands over the
 *   map requests it made before this worker was in control, so the first visit counts.
 * - Everything else (the API: login, cases, photos) goes to the network untouched; drafts
 *   wait in IndexedDB, not here.
 */

/* global self, caches */
const VERSION = '__VERSION__';
const PRECACHE = __PRECACHE__;
const SHELL = `report-shell-${VERSION}`;
const MAP = 'report-map-v1';
const MAX_MAP = 600; // tiles of a few square kilometres over several zooms, and the glyphs
const NAV_TIMEOUT_MS = 4000;
// Paths in PRECACHE are relative to this script, which the build puts beside report.html.
const SHELL_PAGE = new URL('report.html', self.location.href).href;
const SHELL_URLS = new Set(PRECACHE.map((path) => new URL(path, self.location.href).href));

const isMapAsset = (url) =>
  url.pathname === '/api/layers' || url.pathname.startsWith('/tiles/') || url.pathname.startsWith('/glyphs/');

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll([...SHELL_URLS].map((href) => new Request(href, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('report-shell-') && k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

async function page(request) {
  try {
    return await withTimeout(fetch(request), NAV_TIMEOUT_MS);
  } catch {
    const cached = await caches.match(SHELL_PAGE, { cacheName: SHELL });
    return cached || Response.error();
  }
}

async function trim(cache) {
  const keys = await cache.keys();
  for (const key of keys.slice(0, Math.max(0, keys.length - MAX_MAP))) await cache.delete(key);
}

async function keepCopy(request, response) {
  if (!response.ok || response.type !== 'basic') return;
  const cache = await caches.open(MAP);
  await cache.put(request, response);
  await trim(cache);
}

async function mapAsset(request) {
  try {
    const response = await fetch(request);
    if (response.ok) await keepCopy(request, response.clone());
    return response;
  } catch (err) {
    const cached = await caches.match(request, { cacheName: MAP });
    if (cached) return cached;
    throw err;
  }
}

async function shellAsset(request) {
  const cached = await caches.match(request, { cacheName: SHELL });
  return cached || fetch(request);
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    if (url.pathname === '/report' || url.pathname === '/report.html') event.respondWith(page(request));
    return;
  }
  if (isMapAsset(url)) {
    event.respondWith(mapAsset(request));
    return;
  }
  if (SHELL_URLS.has(url.origin + url.pathname)) event.respondWith(shellAsset(request));
});

// The page's map requests from before this worker controlled it: fetch and keep them.
self.addEventListener('message', (event) => {
  const data = event.data || {};
  if (data.type !== 'warm' || !Array.isArray(data.urls)) return;
  const urls = data.urls
    .slice(0, 200)
    .map((u) => new URL(u, self.location.origin))
    .filter((u) => u.origin === self.location.origin && isMapAsset(u));
  event.waitUntil(
    caches.open(MAP).then(async (cache) => {
      for (const url of urls) {
        if (await cache.match(url.href)) continue;
        try {
          await keepCopy(new Request(url.href), await fetch(url.href));
        } catch {
          // offline again: the next visit fills it
        }
      }
    }),
  );
});
