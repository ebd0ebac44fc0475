// Regenerates the README's dashboard screenshots (docs/images/*.png): `npm run screenshots`.
// Starts the real server (tokens, an admin), makes a few runs of each kind through MCP, and photographs
// the pages in headless Chromium. Needs the engine, the sandbox image and `npm run build`.
import { join } from 'node:path';
import { openBrowser } from '../test/helpers/browser.js';
import { runtime } from '../test/helpers/engine.js';
import { httpClient } from '../test/helpers/mcp-client.js';
import { startServer } from '../test/helpers/server-process.js';
import { projectRoot } from '../server/version.js';

const OUT = join(projectRoot, 'docs', 'images');
const TOKENS = { ops: 'ops-screenshot-token-0123', alice: 'alice-screenshot-token-01', ci: 'ci-screenshot-token-012345' };

const server = await startServer({
  CAPSULE_TOKENS: Object.entries(TOKENS).map(([n, t]) => `${n}:${t}`).join(','),
  CAPSULE_ADMIN_OWNERS: 'ops',
  CAPSULE_TRACE_URL_TEMPLATE: 'http://127.0.0.1:16686/trace/{trace_id}',
  CAPSULE_REQUIRE_DISK_QUOTA: process.env['CAPSULE_REQUIRE_DISK_QUOTA'] ?? '0',
});
const browser = await openBrowser({ width: 1280, height: 800 });
try {
  const alice = await httpClient(server.url, { authorization: `Bearer ${TOKENS.alice}` });
  const ci = await httpClient(server.url, { authorization: `Bearer ${TOKENS.ci}` });
  await ci.call('run_command', { command: 'echo "build ok"; ls /workspace' });
  await ci.call('run_command', { command: 'echo "2 tests failed" >&2; exit 2' });
  await alice.call('run_code', { language: 'python', code: 'print(sum(range(10**6)))' });
  await ci.call('run_command', { command: 'sleep 30', timeout_ms: 1000 });
  await alice.call('run_code', { language: 'python', code: 'x = bytearray(400 << 20)', profile: 'strict' });
  await alice.call('profile_code', { language: 'javascript', code: 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nconsole.log(fib(27));' });
  // A run with a shape on the chart: memory grows in steps while the CPU works, then it prints its total.
  const shaped = await alice.call<{ run_id: string }>('run_code', {
    language: 'python',
    code: 'import time\nblocks = []\nfor i in range(12):\n    blocks.append(bytearray(12 << 20))\n    end = time.time() + 0.15\n    while time.time() < end: pass\n    print(f"step {i}: {len(blocks) * 12} MiB", flush=True)\n    time.sleep(0.1)\nprint("done")',
  });
  const live = await alice.call<{ run_id: string }>('start_process', { language: 'python', code: 'import time, itertools\nfor i in itertools.count():\n    print(f"serving request {i}", flush=True)\n    time.sleep(0.5)' });

  const { page } = browser;
  await page.goto(`${server.base}/ui/`);
  await page.locator('input[name=token]').fill(TOKENS.ops);
  await page.locator('button[type=submit]').click();
  await page.locator(`tr[data-run-id="${live.s.run_id}"]`).waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(OUT, 'runs.png') });

  await page.goto(`${server.base}/ui/#/runs/${shaped.s.run_id}`);
  await page.waitForFunction(() => Number(document.querySelector('.chart-canvas')?.getAttribute('data-samples')) > 5);
  await page.screenshot({ path: join(OUT, 'run-detail.png'), fullPage: true });

  await page.goto(`${server.base}/ui/#/system`);
  await page.locator('.cards').waitFor();
  await page.screenshot({ path: join(OUT, 'system.png') });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/ui/#/runs`);
  await page.locator('table.runs tbody tr').first().waitFor();
  await page.screenshot({ path: join(OUT, 'runs-phone.png') });

  await alice.call('kill_process', { process_id: (live.s as unknown as { process_id: string }).process_id });
  await alice.client.close();
  await ci.client.close();
  process.stdout.write(`screenshots written to ${OUT}\n`);
} finally {
  await browser.close();
  await server.stop();
  for (const v of await runtime.listVolumes({ 'capsule.instance': server.instance })) await runtime.removeVolume(v.name).catch(() => undefined);
}
