import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ProfilingService } from '../../server/profiling/profiling-service.js';
import { ArtifactStore } from '../../server/store/artifact-store.js';
import { realServices, requireEngine } from '../helpers/engine.js';
import { silentLog } from '../helpers/fixtures.js';

// The flame graph pages must really render: load them in headless Chromium (installed by .ci/run)
// and inspect the DOM after the scripts ran, with the browser's console errors.
const run = promisify(execFile);
test.before(requireEngine);

const dir = mkdtempSync(join(tmpdir(), 'capsule-fg-'));
const artifacts = new ArtifactStore(dir, 64 << 20);
const profiling = new ProfilingService({ sandbox: realServices().sandbox, artifacts, log: silentLog, maxArtifactBytes: 64 << 20 });

async function render(html: Buffer): Promise<{ dom: string; console: string }> {
  const file = join(mkdtempSync(join(tmpdir(), 'capsule-page-')), 'page.html');
  writeFileSync(file, html);
  const profileDir = mkdtempSync(join(tmpdir(), 'capsule-chromium-'));
  const { stdout, stderr } = await run(
    'chromium',
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profileDir}`, '--enable-logging=stderr', '--v=0', '--virtual-time-budget=8000', '--dump-dom', `file://${file}`],
    { maxBuffer: 64 << 20, timeout: 60_000 },
  );
  return { dom: stdout, console: stderr.split('\n').filter((l) => l.includes('CONSOLE')).join('\n') };
}

test('the cProfile flame graph page renders an SVG flame graph in a browser', async (t) => {
  const r = await profiling.profileCode({ language: 'python', code: 'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nprint(fib(20))' }, { owner: 'browser' });
  const { dom, console } = await render(artifacts.get(r.run_id, 'browser', 'flamegraph.html').data);
  t.notRegex(console, /Uncaught/, console);
  t.regex(dom, /<svg[^>]*d3-flame-graph/);
  t.true((dom.match(/<rect/g) ?? []).length >= 3, 'frames drawn');
  t.regex(dom, /fib \(main\.py:1\)/);
});

test('the 0x flame graph page renders in a browser', async (t) => {
  const r = await profiling.profileCode({ language: 'javascript', code: 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nconsole.log(fib(28));' }, { owner: 'browser' });
  const { dom, console } = await render(artifacts.get(r.run_id, 'browser', 'flamegraph.html').data);
  t.notRegex(console, /Uncaught/, console);
  t.regex(dom, /<canvas|<svg/);
});
