import test from 'ava';
import type { Page } from 'playwright-core';
import { openBrowser, type Browser } from '../helpers/browser.js';
import { containersLeft, runtime } from '../helpers/engine.js';
import { serverForThisFile } from '../helpers/file-server.js';
import { httpClient } from '../helpers/mcp-client.js';
import { startServer } from '../helpers/server-process.js';

// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against the real
// server, with runs made by other clients through MCP. Every wait is on a condition in the page.
const TOKENS = { alice: 'alice-token-0123456789ab', bob: 'bob-token-0123456789abcd', ops: 'ops-token-0123456789abcd' };
const server = serverForThisFile(
  { CAPSULE_TOKENS: Object.entries(TOKENS).map(([n, t]) => `${n}:${t}`).join(','), CAPSULE_ADMIN_OWNERS: 'ops', CAPSULE_TRACE_URL_TEMPLATE: 'http://127.0.0.1:16686/trace/{trace_id}' },
  async (s) => {
    for (const v of await runtime.listVolumes({ 'capsule.instance': s.instance })) await runtime.removeVolume(v.name).catch(() => undefined);
  },
);
const api = (path: string, token: string, init: RequestInit = {}) => fetch(`${server().base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
const mcp = (owner: keyof typeof TOKENS) => httpClient(server().url, { authorization: `Bearer ${TOKENS[owner]}` });

/** A fresh browser profile per test; page errors (not the 401s of a refused token) fail the test. */
async function withBrowser(t: { teardown(fn: () => Promise<void>): void }, viewport?: { width: number; height: number }): Promise<Browser> {
  const browser = await openBrowser(viewport);
  t.teardown(() => browser.close());
  return browser;
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(`${server().base}/ui/`);
  await page.locator('input[name=token]').fill(token);
  await page.locator('button[type=submit]').click();
  await page.locator('header.top .who').waitFor();
}

// Not page errors: refused tokens (401/403/404), and Chromium's ERR_NETWORK_CHANGED when another test
// creates or removes a network interface on the host (a bridge) while a request is in flight.
const uncaught = (b: Browser) => b.errors.filter((e) => !/Failed to load resource: (the server responded with a status of 40[134]|net::ERR_NETWORK_CHANGED)/.test(e));

test.serial('a wrong token is refused with a clear message; the right one signs in and is kept for the tab', async (t) => {
  const b = await withBrowser(t);
  await b.page.goto(`${server().base}/ui/`);
  await b.page.locator('input[name=token]').fill('not-a-token-of-this-server');
  await b.page.locator('button[type=submit]').click();
  const error = b.page.locator('.sign-in [role=alert]');
  await error.waitFor();
  t.regex((await error.textContent()) ?? '', /refused \(HTTP 401\)/);
  t.is(await b.page.evaluate(() => sessionStorage.getItem('capsule.token')), null, 'a refused token is not kept');

  await b.page.locator('input[name=token]').fill(TOKENS.alice);
  await b.page.locator('button[type=submit]').click();
  await b.page.locator('header.top .who[data-owner=alice]').waitFor();
  t.is(await b.page.evaluate(() => sessionStorage.getItem('capsule.token')), TOKENS.alice);
  t.is(await b.page.context().cookies().then((c) => c.length), 0, 'no cookie: the token is sent as a header');
  await b.page.reload();
  await b.page.locator('header.top .who[data-owner=alice]').waitFor();
  t.deepEqual(uncaught(b), []);
});

test.serial('a process started through MCP appears live, streams its output, draws its stats and is killed from the UI', async (t) => {
  const b = await withBrowser(t);
  await signIn(b.page, TOKENS.alice);
  await b.page.locator('section .toolbar h2', { hasText: 'Runs' }).waitFor();
  const { client, call } = await mcp('alice');
  t.teardown(() => client.close());
  // Half busy, half asleep, so the CPU line has something to draw; one line every 0.2 s.
  const code = 'import time, itertools\nfor i in itertools.count():\n    end = time.time() + 0.1\n    while time.time() < end: pass\n    print(f"tick {i}", flush=True)\n    time.sleep(0.1)';
  const { s: started } = await call<{ run_id: string; process_id: string }>('start_process', { language: 'python', code });
  const row = b.page.locator(`tr[data-run-id="${started.run_id}"]`);
  await row.waitFor({ timeout: 20_000 });
  t.is(await row.getAttribute('data-status'), 'running');

  await row.locator('a').click();
  const stdout = b.page.locator('section.run pre[data-stream=stdout]');
  await b.page.waitForFunction(() => /tick 3\n/.test(document.querySelector('pre[data-stream=stdout]')?.textContent ?? ''), null, { timeout: 20_000 });
  const early = (await stdout.textContent()) ?? '';
  await b.page.waitForFunction((n) => (document.querySelector('pre[data-stream=stdout]')?.textContent ?? '').length > n + 20, early.length, { timeout: 20_000 });
  t.true(((await stdout.textContent()) ?? '').startsWith(early), 'output only grows while it streams in');

  // The chart: samples arrive about once a second; then the CPU line's colour is on the canvas.
  await b.page.waitForFunction(() => Number(document.querySelector('.chart-canvas')?.getAttribute('data-samples')) >= 3, null, { timeout: 20_000 });
  const drawn = await b.page.waitForFunction(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('.chart-canvas canvas');
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return 0;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let blue = 0;
    for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i]! - 37) < 30 && Math.abs(data[i + 1]! - 99) < 30 && Math.abs(data[i + 2]! - 235) < 30 && data[i + 3]! > 200) blue++;
    return blue > 50 ? blue : 0;
  }, null, { timeout: 20_000 });
  t.true(Number(await drawn.jsonValue()) > 50, 'the CPU series is drawn');

  b.page.once('dialog', (d) => void d.accept());
  await b.page.locator('section.run button.danger', { hasText: 'Kill' }).click();
  await b.page.locator('section.run[data-status=killed]').waitFor({ timeout: 30_000 });
  const record = (await (await api(`/v1/runs/${started.run_id}`, TOKENS.alice)).json()) as { status: string };
  t.is(record.status, 'killed');
  t.deepEqual(await containersLeft({ 'capsule.run_id': started.run_id }), []);
  t.deepEqual(uncaught(b), []);
});

test.serial('a run_command in flight appears live, and its output streams in on the run page while it runs', async (t) => {
  const b = await withBrowser(t);
  await signIn(b.page, TOKENS.alice);
  await b.page.locator('section .toolbar h2', { hasText: 'Runs' }).waitFor();
  const { client, call } = await mcp('alice');
  t.teardown(() => client.close());
  // Not awaited: the call returns when the run ends, and the page must show it before that.
  const done = call<{ run_id: string; status: string; stdout: string }>('run_command', { command: 'for i in $(seq 1 12); do echo "line $i"; sleep 0.5; done' });
  const row = b.page.locator('tr[data-status=running]', { hasText: 'line $i' });
  await row.waitFor({ timeout: 20_000 });
  const runId = await row.getAttribute('data-run-id');
  await row.locator('a').click();
  await b.page.waitForFunction(() => /line 2\n/.test(document.querySelector('pre[data-stream=stdout]')?.textContent ?? ''), null, { timeout: 20_000 });
  t.is(await b.page.locator('section.run').getAttribute('data-status'), 'running', 'the output arrived while the run was still running');
  const { s } = await done;
  t.is(s.run_id, String(runId));
  t.is(s.status, 'exited');
  await b.page.locator('section.run[data-status=exited]').waitFor({ timeout: 20_000 });
  await b.page.waitForFunction(() => /line 12\n$/.test(document.querySelector('pre[data-stream=stdout]')?.textContent ?? ''), null, { timeout: 10_000 });
  t.is(await b.page.locator('pre[data-stream=stdout]').textContent(), s.stdout, 'every line once, as in the result');
  t.deepEqual(uncaught(b), []);
});

test.serial('a run_command made by another client appears once it finishes, with its output and trace link', async (t) => {
  const b = await withBrowser(t);
  await signIn(b.page, TOKENS.alice);
  const { client } = await mcp('alice');
  t.teardown(() => client.close());
  // The caller's trace, continued by the server: the run records this trace id.
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const result = await client.callTool({ name: 'run_command', arguments: { command: 'echo from-another-client; echo warn >&2' }, _meta: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
  const s = result.structuredContent as { run_id: string };
  const row = b.page.locator(`tr[data-run-id="${s.run_id}"][data-status=exited]`);
  await row.waitFor({ timeout: 20_000 });
  await row.locator('a').click();
  await b.page.waitForFunction(() => document.querySelector('pre[data-stream=stdout]')?.textContent === 'from-another-client\n', null, { timeout: 10_000 });
  t.is(await b.page.locator('pre[data-stream=stderr]').textContent(), 'warn\n');
  const trace = b.page.locator('dl.facts a[href^="http://127.0.0.1:16686/trace/"]');
  await trace.waitFor();
  t.is(await trace.getAttribute('href'), `http://127.0.0.1:16686/trace/${traceId}`);
  t.is(((await (await api(`/v1/runs/${s.run_id}`, TOKENS.alice)).json()) as { trace_id: string }).trace_id, traceId);
  t.deepEqual(uncaught(b), []);
});

test.serial('a workspace file is browsed, read, downloaded as an archive and deleted from the UI', async (t) => {
  const b = await withBrowser(t);
  await signIn(b.page, TOKENS.alice);
  const { client, call } = await mcp('alice');
  t.teardown(() => client.close());
  const ws = (await call<{ workspace_id: string }>('create_workspace', { ttl_s: 600 })).s.workspace_id;
  await call('write_files', { workspace_id: ws, files: [{ path: 'src/hello.py', content: 'print("hello from the workspace")\n' }, { path: 'notes.txt', content: 'keep\n' }] });

  await b.page.locator('header.top nav a', { hasText: 'Workspaces' }).click();
  await b.page.locator(`tr[data-workspace-id="${ws}"] a`).click();
  await b.page.locator('li[data-path=src] a').click();
  await b.page.locator('li[data-path="src/hello.py"] button.link').click();
  await b.page.waitForFunction(() => document.querySelector('.file-text')?.textContent === 'print("hello from the workspace")\n', null, { timeout: 20_000 });

  const [download] = await Promise.all([b.page.waitForEvent('download'), b.page.locator('button', { hasText: 'Download archive' }).click()]);
  t.is(download.suggestedFilename(), `${ws}.tar`);
  const tar = await download.createReadStream().then(async (stream) => {
    const parts: Buffer[] = [];
    for await (const p of stream) parts.push(p as Buffer);
    return Buffer.concat(parts).toString('latin1');
  });
  t.true(tar.includes('src/hello.py') && tar.includes('hello from the workspace'), 'the archive holds the file');

  b.page.once('dialog', (d) => void d.accept());
  await b.page.locator('li[data-path="src/hello.py"] button.danger').click();
  await b.page.locator('li[data-path="src/hello.py"]').waitFor({ state: 'detached', timeout: 20_000 });
  const entries = (await (await api(`/v1/workspaces/${ws}/entries?recursive=true`, TOKENS.alice)).json()) as { entries: Array<{ path: string }> };
  t.deepEqual(entries.entries.map((e) => e.path).sort(), ['notes.txt', 'src']);
  await call('delete_workspace', { workspace_id: ws });
  t.deepEqual(uncaught(b), []);
});

test.serial('an owner cannot see another owner\'s run, in the UI or the API; an admin sees it with its owner', async (t) => {
  const bob = await mcp('bob');
  const alice = await mcp('alice');
  t.teardown(async () => {
    await bob.client.close();
    await alice.client.close();
  });
  const bobs = (await bob.call<{ run_id: string; process_id: string }>('start_process', { command: 'sleep 120' })).s;
  // Alice's own run, started after bob's: once her list shows it, the list has been fetched since bob's started.
  const hers = (await alice.call<{ run_id: string }>('run_command', { command: 'echo mine' })).s;

  const b = await withBrowser(t);
  await signIn(b.page, TOKENS.alice);
  await b.page.locator(`tr[data-run-id="${hers.run_id}"]`).waitFor({ timeout: 20_000 });
  t.is(await b.page.locator(`tr[data-run-id="${bobs.run_id}"]`).count(), 0, 'bob\'s run is not in alice\'s list');
  t.is(await b.page.locator('table.runs th', { hasText: 'Owner' }).count(), 0, 'no owner column for a non-admin');
  t.is(await b.page.locator('select[name=owner]').count(), 0);
  await b.page.goto(`${server().base}/ui/#/runs/${bobs.run_id}`);
  await b.page.locator('main .error', { hasText: 'not found' }).waitFor();

  // The API says the same: as if the run did not exist, and no listing of other owners.
  t.is((await api(`/v1/runs/${bobs.run_id}`, TOKENS.alice)).status, 404);
  t.is((await api(`/v1/runs/${bobs.run_id}/events`, TOKENS.alice)).status, 404);
  t.is((await api(`/v1/runs/${bobs.run_id}/stats`, TOKENS.alice)).status, 404);
  t.is((await api(`/v1/runs/${bobs.run_id}`, TOKENS.alice, { method: 'DELETE' })).status, 404);
  t.is((await api('/v1/runs?owner=bob', TOKENS.alice)).status, 403);
  const aliceList = (await (await api('/v1/runs?limit=500', TOKENS.alice)).json()) as { runs: Array<{ owner: string }>; all_owners: boolean };
  t.deepEqual([...new Set(aliceList.runs.map((r) => r.owner))], ['alice']);
  t.false(aliceList.all_owners);

  // The admin: bob's run in the list, with the owner column, and its detail page.
  const admin = await withBrowser(t);
  await signIn(admin.page, TOKENS.ops);
  const row = admin.page.locator(`tr[data-run-id="${bobs.run_id}"][data-owner=bob]`);
  await row.waitFor({ timeout: 20_000 });
  await admin.page.locator('table.runs th', { hasText: 'Owner' }).waitFor();
  await admin.page.locator('select[name=owner]').selectOption('bob');
  await admin.page.waitForFunction(() => [...document.querySelectorAll('table.runs tbody tr')].every((tr) => tr.getAttribute('data-owner') === 'bob'));
  const adminView = (await (await api(`/v1/runs/${bobs.run_id}`, TOKENS.ops)).json()) as { owner: string };
  t.is(adminView.owner, 'bob');
  const adminList = (await (await api('/v1/runs?limit=500', TOKENS.ops)).json()) as { runs: Array<{ owner: string }>; all_owners: boolean };
  t.true(adminList.all_owners);
  t.true(adminList.runs.some((r) => r.owner === 'bob') && adminList.runs.some((r) => r.owner === 'alice'));
  // An admin may also stop it (operators clean up after everyone).
  t.is((await api(`/v1/runs/${bobs.run_id}`, TOKENS.ops, { method: 'DELETE' })).status, 200);
  t.deepEqual(uncaught(b), []);
  t.deepEqual(uncaught(admin), []);
});

test.serial('the pages are usable on a phone: the runs table becomes cards and nothing overflows sideways', async (t) => {
  const { client, call } = await mcp('alice');
  t.teardown(() => client.close());
  const runId = (await call<{ run_id: string }>('run_command', { command: 'echo a-line-long-enough-to-wrap-on-a-phone-screen-rather-than-scroll-sideways-0123456789' })).s.run_id;
  const b = await withBrowser(t, { width: 390, height: 844 });
  await signIn(b.page, TOKENS.alice);
  await b.page.locator(`table.runs tbody tr[data-run-id="${runId}"]`).waitFor({ timeout: 20_000 });
  t.is(await b.page.locator('table.runs thead').evaluate((el) => getComputedStyle(el).display), 'none');
  for (const hash of ['#/runs', `#/runs/${runId}`, '#/workspaces', '#/system']) {
    await b.page.evaluate((h) => (location.hash = h), hash);
    await b.page.locator('main section').first().waitFor();
    await b.page.waitForFunction(() => !document.querySelector('.loading'));
    const overflow = await b.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    t.true(overflow <= 1, `${hash} scrolls sideways by ${overflow}px`);
  }
  t.deepEqual(uncaught(b), []);
});

test.serial('a profiled run shows its flame graph on the run page', async (t) => {
  const b = await withBrowser(t);
  await signIn(b.page, TOKENS.alice);
  const { client, call } = await mcp('alice');
  t.teardown(() => client.close());
  // A hot function that runs for a wall time, not a work count: 0x samples it however loaded the machine is.
  const code = 'function hotLoop(until) { let x = 0; while (Date.now() < until) x += Math.sqrt(x + 1); return x; }\nconsole.log(hotLoop(Date.now() + 1500) > 0);';
  const { s } = await call<{ run_id: string }>('profile_code', { language: 'javascript', code });
  await b.page.goto(`${server().base}/ui/#/runs/${s.run_id}`);
  await b.page.locator('.flame-chart svg rect').nth(2).waitFor({ timeout: 20_000 });
  t.true((await b.page.locator('.flame-chart svg rect').count()) >= 3, 'frames drawn');
  t.regex((await b.page.locator('.flame-chart').textContent()) ?? '', /hotLoop/);
  await b.page.locator('button', { hasText: 'Download flamegraph.html' }).waitFor();
  t.deepEqual(uncaught(b), []);
});

test.serial('the runs list answers 304 to its own ETag until a run is recorded', async (t) => {
  const first = await api('/v1/runs', TOKENS.alice);
  const etag = first.headers.get('etag')!;
  t.regex(etag, /^".+"$/);
  const again = await api('/v1/runs', TOKENS.alice, { headers: { 'if-none-match': etag } });
  t.is(again.status, 304);
  t.is(await again.text(), '');
  const { client, call } = await mcp('alice');
  t.teardown(() => client.close());
  await call('run_command', { command: 'true' });
  const changed = await api('/v1/runs', TOKENS.alice, { headers: { 'if-none-match': etag } });
  t.is(changed.status, 200);
  t.not(changed.headers.get('etag'), etag);
});

test.serial('without tokens the dashboard opens on loopback with no sign-in, as owner local', async (t) => {
  const tokenless = await startServer({});
  t.teardown(() => tokenless.stop().then(() => undefined));
  const b = await withBrowser(t);
  await b.page.goto(`${tokenless.base}/ui/`);
  await b.page.locator('header.top .who[data-owner=local]').waitFor();
  t.is(await b.page.locator('input[name=token]').count(), 0, 'no sign-in form');
  t.regex((await b.page.locator('header.top .who').textContent()) ?? '', /no sign-in/);
  const who = await (await fetch(`${tokenless.base}/v1/whoami`)).json();
  t.deepEqual(who, { owner: 'local', admin: false, auth: 'none', trace_url_template: null });
  t.deepEqual(uncaught(b), []);
});

test.serial('a dropped event stream resumes with Last-Event-ID: the output goes on with every line once', async (t) => {
  const b = await withBrowser(t);
  await signIn(b.page, TOKENS.alice);
  const { client, call } = await mcp('alice');
  t.teardown(() => client.close());
  const { s } = await call<{ run_id: string; process_id: string }>('start_process', { language: 'python', code: 'import time\nfor i in range(400):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.1)' });
  t.teardown(() => api(`/v1/runs/${s.run_id}`, TOKENS.alice, { method: 'DELETE' }).then(() => undefined));
  // The first connection delivers the first line (bytes 0-7 of the log, id 7) and then drops.
  const sent: Array<string | undefined> = [];
  let first = true;
  await b.page.route(`**/v1/runs/${s.run_id}/events`, async (route) => {
    sent.push(route.request().headers()['last-event-id']);
    if (!first) return route.continue();
    first = false;
    await route.fulfill({ status: 200, contentType: 'text/event-stream', body: 'id: 7\nevent: stdout\ndata: {"data":"tick 0\\n"}\n\n' });
  });
  await b.page.goto(`${server().base}/ui/#/runs/${s.run_id}`);
  await b.page.waitForFunction(() => /tick 5\n/.test(document.querySelector('pre[data-stream=stdout]')?.textContent ?? ''), null, { timeout: 30_000 });
  t.deepEqual(sent.slice(0, 2), [undefined, '7'], 'the reconnect asked to resume after the last event seen');
  const text = (await b.page.locator('pre[data-stream=stdout]').textContent()) ?? '';
  const lines = text.trim().split('\n');
  t.deepEqual(lines, lines.map((_, i) => `tick ${i}`), 'no line lost or repeated across the reconnect');
  t.deepEqual(uncaught(b), []);
});
