import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import type { OutputBundle, OutputChunk } from 'rollup';

// The console is served by the Python backend at `/`; relative asset paths keep the build
// usable behind any prefix. `npm run dev` proxies the backend's routes (CITYOPS_BACKEND,
// default http://127.0.0.1:8000) so the page can be developed against a running server.
const backend = process.env.CITYOPS_BACKEND ?? 'http://127.0.0.1:8000';
const proxied = ['/api', '/tiles', '/glyphs'];

// Files of public/ the phone page needs offline (copied to dist/ as they are).
const REPORT_STATIC = [
  'manifest.webmanifest',
  'icons/report-192.png',
  'icons/report-512.png',
  'icons/report-maskable-512.png',
  'icons/report-apple-180.png',
];

/**
 * Emits /report-sw.js (sw/report-sw.js with the phone page's app shell filled in: report.html,
 * the chunks its entry imports, their CSS, the manifest and icons) at a stable URL beside
 * report.html. Its version is a hash of that list, so each build that changes the shell
 * installs a new worker and the phones drop the old cache.
 */
function reportServiceWorker(): Plugin {
  const source = fileURLToPath(new URL('./sw/report-sw.js', import.meta.url));
  return {
    name: 'cityops-report-sw',
    apply: 'build',
    generateBundle(_options, bundle: OutputBundle) {
      const chunks = Object.values(bundle).filter((f): f is OutputChunk => f.type === 'chunk');
      const entry = chunks.find((c) => c.isEntry && c.name === 'report');
      if (!entry) throw new Error('report-sw: no "report" entry chunk in the bundle');
      const files = new Set<string>();
      const visit = (chunk: OutputChunk) => {
        if (files.has(chunk.fileName)) return;
        files.add(chunk.fileName);
        for (const css of chunk.viteMetadata?.importedCss ?? []) files.add(css);
        for (const asset of chunk.viteMetadata?.importedAssets ?? []) files.add(asset);
        for (const name of chunk.imports) {
          const next = bundle[name];
          if (next?.type === 'chunk') visit(next);
        }
      };
      visit(entry);
      const precache = ['report.html', ...[...files].sort(), ...REPORT_STATIC];
      const version = createHash('sha256').update(precache.join('\n')).update(readFileSync(source)).digest('hex').slice(0, 12);
      const code = readFileSync(source, 'utf8')
        .replace("'__VERSION__'", JSON.stringify(version))
        .replace('__PRECACHE__', JSON.stringify(precache));
      this.emitFile({ type: 'asset', fileName: 'report-sw.js', source: code });
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [reportServiceWorker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // maplibre-gl is one ~1 MB module; it is the map, not an accident.
    chunkSizeWarningLimit: 1500,
    // Four pages: the console, the grid worker's phone page (/report -> report.html), the
    // data center (/datacenter -> datacenter.html: the data catalog and its governance) and the
    // video wall (/wall -> wall.html).
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL('./index.html', import.meta.url)),
        report: fileURLToPath(new URL('./report.html', import.meta.url)),
        datacenter: fileURLToPath(new URL('./datacenter.html', import.meta.url)),
        wall: fileURLToPath(new URL('./wall.html', import.meta.url)),
      },
    },
  },
  server: {
    proxy: Object.fromEntries(proxied.map((p) => [p, { target: backend, ws: p === '/api' }])),
  },
});
