import test from 'ava';
import express from 'express';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dashboardRouter } from '../../server/http/dashboard-static.js';

async function serve(dir: string) {
  const app = express();
  app.use(dashboardRouter(dir));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise((r) => server.close(r)) };
}

test('/ui serves the built page with a strict CSP, no framing and no caching; hashed assets are cached for a year', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-ui-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  const { base, close } = await serve(dir);
  t.teardown(close);
  const redirect = await fetch(`${base}/ui`, { redirect: 'manual' });
  t.is(redirect.status, 301);
  t.is(redirect.headers.get('location'), '/ui/');
  const page = await fetch(`${base}/ui/`);
  t.is(page.status, 200);
  t.is(await page.text(), '<!doctype html><div id="app"></div>');
  const csp = page.headers.get('content-security-policy') ?? '';
  t.regex(csp, /script-src 'self'(;|$)/, 'no inline or remote script');
  t.regex(csp, /frame-ancestors 'none'/);
  t.regex(csp, /connect-src 'self'/);
  t.is(page.headers.get('cache-control'), 'no-cache');
  const asset = await fetch(`${base}/ui/assets/index-abc123.js`);
  t.is(asset.status, 200);
  t.regex(asset.headers.get('cache-control') ?? '', /max-age=31536000.*immutable/);
  t.truthy(asset.headers.get('content-security-policy'));
  const missing = await fetch(`${base}/ui/assets/nope.js`);
  t.is(missing.status, 404);
  t.is((await fetch(`${base}/ui/run-viewer.html`)).status, 404, 'the MCP App page is served over MCP only');
});

test('an unbuilt dashboard says how to build it', async (t) => {
  const { base, close } = await serve(mkdtempSync(join(tmpdir(), 'capsule-ui-empty-')));
  t.teardown(close);
  const res = await fetch(`${base}/ui/`);
  t.is(res.status, 503);
  t.regex(await res.text(), /npm run build/);
});
