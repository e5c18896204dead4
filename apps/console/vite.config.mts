import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is served by the gateway under /console/ (apps/gateway/src/console). JSX is
// compiled by esbuild for Preact (no Babel preset needed). No inline script: Vite's module
// preload polyfill is turned off so index.html holds only the entry <script src> and <link>s,
// which a `script-src 'self'` Content-Security-Policy lets through.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
  },
  logLevel: 'warn',
});
