import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { viteSingleFile } from 'vite-plugin-singlefile';

const root = fileURLToPath(new URL('.', import.meta.url));

// The MCP App page: one self-contained HTML file (the host renders it in a sandboxed iframe whose
// default CSP allows inline scripts and styles but no network), written beside the dashboard.
export default defineConfig({
  root,
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  plugins: [viteSingleFile()],
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: false,
    target: 'es2022',
    chunkSizeWarningLimit: 1000,
    rollupOptions: { input: fileURLToPath(new URL('run-viewer.html', import.meta.url)) },
  },
});
