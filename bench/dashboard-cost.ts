/**
 * What the dashboard costs runs (`npx tsx bench/dashboard-cost.ts [--baseline <cli.js>] [--n 60]`;
 * `npm run build` first). Figures, not assertions.
 *
 * Servers started side by side, each with its own instance and data folder, and called in turn
 * (A B C, B C A, C A B, ...) so drift on this shared machine hits every variant alike:
 *   baseline   another build's cli.js without the UI code (e.g. the commit before it, built in /tmp);
 *   closed     this build, nobody has the dashboard open;
 *   open       this build with the dashboard open on the runs list in headless Chromium (polling).
 * Each call is `run_command "echo hi"` on the warm pool, through the MCP SDK client. Then the server's
 * own CPU time (utime+stime from /proc) over an idle window, dashboard closed and open.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openBrowser, type Browser } from '../test/helpers/browser.js';
import { runtime } from '../test/helpers/engine.js';
import { httpClient } from '../test/helpers/mcp-client.js';
import { startServer, type RunningServer } from '../test/helpers/server-process.js';
import { summarize, table } from './stats.js';

const { values } = parseArgs({ options: { baseline: { type: 'string' }, n: { type: 'string', default: '60' }, idle: { type: 'string', default: '30' } } });
const n = Number(values.n);
const idleS = Number(values.idle);
const TOKEN = 'bench-token-0123456789abcdef';
const env = { CAPSULE_TOKENS: `bench:${TOKEN}`, CAPSULE_LOG_LEVEL: 'error' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...a: unknown[]) => console.error('[dashboard-cost]', ...a);

/** CPU time the server process has used, in ms (Linux /proc; clock ticks are 100 Hz here). */
function cpuMs(server: RunningServer): number {
  const fields = readFileSync(`/proc/${server.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function openDashboard(server: RunningServer): Promise<Browser> {
  const b = await openBrowser();
  await b.page.goto(`${server.base}/ui/`);
  await b.page.locator('input[name=token]').fill(TOKEN);
  await b.page.locator('button[type=submit]').click();
  await b.page.locator('table.runs tbody tr').first().waitFor({ timeout: 30_000 });
  return b;
}

const servers: Array<{ name: string; server: RunningServer }> = [];
let browser: Browser | null = null;
try {
  if (values.baseline) servers.push({ name: 'baseline (no UI code)', server: await startServer(env, values.baseline) });
  servers.push({ name: 'this build, dashboard closed', server: await startServer(env) });
  servers.push({ name: 'this build, dashboard open', server: await startServer(env) });
  const clients = await Promise.all(servers.map((s) => httpClient(s.server.url, { authorization: `Bearer ${TOKEN}` })));
  // A first run each (the list has a row to show), and the warm pools filled.
  await Promise.all(clients.map((c) => c.call('run_command', { command: 'true' })));
  browser = await openDashboard(servers.at(-1)!.server);
  await sleep(3000);
  const times = servers.map(() => [] as number[]);
  log(`${n} rounds of echo hi on ${servers.length} servers`);
  for (let i = 0; i < n; i++) {
    // Each round starts at another server, so no variant always runs right after the same one.
    for (let j = 0; j < clients.length; j++) {
      const k = (i + j) % clients.length;
      const c = clients[k]!;
      await sleep(150); // the warm pool refills between runs
      const t = performance.now();
      const r = await c.call<{ stdout: string }>('run_command', { command: 'echo hi' });
      times[k]!.push(performance.now() - t);
      if (r.s.stdout !== 'hi\n') throw new Error(`bad output: ${r.text}`);
    }
  }
  console.log(table(servers.map((s, k) => ({ variant: s.name, ...summarize(times[k]!) }))));

  // Idle CPU of the server: the same server with the dashboard open, then closed.
  const target = servers.at(-1)!.server;
  const cpuOver = async () => {
    const before = cpuMs(target);
    await sleep(idleS * 1000);
    return cpuMs(target) - before;
  };
  const open = await cpuOver();
  await browser.close();
  browser = null;
  const closed = await cpuOver();
  console.log(table([
    { server: `idle ${idleS} s, dashboard open (runs list polled every 2 s)`, cpu_ms: open, per_minute: Math.round((open * 60) / idleS) },
    { server: `idle ${idleS} s, dashboard closed`, cpu_ms: closed, per_minute: Math.round((closed * 60) / idleS) },
  ]));
  await Promise.all(clients.map((c) => c.client.close()));
} finally {
  await browser?.close();
  for (const { server } of servers) {
    await server.stop();
    for (const v of await runtime.listVolumes({ 'capsule.instance': server.instance })) await runtime.removeVolume(v.name).catch(() => undefined);
  }
}
