import express, { Router } from 'express';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../version.js';

/** Where `npm run build` puts the dashboard (ui/ built by Vite). */
export const DASHBOARD_DIR = join(projectRoot, 'dist', 'ui');

/**
 * The dashboard's own scripts and styles only: run output is untrusted text, so no inline script may
 * run even if some output ever reached the DOM unescaped; no framing (clickjacking on the Kill button).
 * Inline styles are allowed for the chart and flame graph libraries' positioning.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/**
 * GET /ui: the dashboard, a static single-page app. The page and its assets are public (they hold no
 * data); every API call it makes carries the bearer token kept in sessionStorage, so the API needs no
 * cookie and no CSRF defence. Hashed asset names are cached for a year; the page itself is revalidated.
 */
export function dashboardRouter(dir = DASHBOARD_DIR): Router {
  const router = Router();
  let index: Buffer | null = null;
  const page = (): Buffer | null => {
    if (!index && existsSync(join(dir, 'index.html'))) index = readFileSync(join(dir, 'index.html'));
    return index;
  };
  // Express routes are not strict: '/ui' also matches '/ui/', so the redirect checks the URL itself.
  router.get('/ui', (req, res) => {
    if (!req.originalUrl.split('?')[0]!.endsWith('/')) return res.redirect(301, '/ui/');
    const html = page();
    res.set(SECURITY_HEADERS);
    if (!html) {
      res.status(503).type('text/plain').send('The dashboard is not built: run `npm run build` (it builds ui/ into dist/ui/).\n');
      return;
    }
    res.set('cache-control', 'no-cache').type('html').send(html);
  });
  router.use(
    '/ui/assets',
    express.static(join(dir, 'assets'), {
      immutable: true,
      maxAge: '365d',
      index: false,
      setHeaders: (res) => {
        for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
      },
    }),
  );
  router.use('/ui/assets', (_req, res) => {
    res.status(404).type('text/plain').send('no such dashboard asset\n');
  });
  return router;
}
