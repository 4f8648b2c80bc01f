import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is served by the Python backend at `/`; relative asset paths keep the build
// usable behind any prefix. `npm run dev` proxies the backend's routes (CITYOPS_BACKEND,
// default http://127.0.0.1:8000) so the page can be developed against a running server.
const backend = process.env.CITYOPS_BACKEND ?? 'http://127.0.0.1:8000';
const proxied = ['/api', '/tiles', '/glyphs'];

export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // maplibre-gl is one ~1 MB module; it is the map, not an accident.
    chunkSizeWarningLimit: 1500,
    // Two pages: the console, and the grid worker's phone page (/report -> report.html).
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL('./index.html', import.meta.url)),
        report: fileURLToPath(new URL('./report.html', import.meta.url)),
      },
    },
  },
  server: {
    proxy: Object.fromEntries(proxied.map((p) => [p, { target: backend, ws: p === '/api' }])),
  },
});
