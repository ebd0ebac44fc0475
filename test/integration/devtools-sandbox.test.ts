/**
 * Runs the analysis and test-run plans in the real sandbox image,
 * locked down the way Capsule runs it, and checks that the parsers read the live output exactly as
 * they read the captured fixtures, so the fixtures cannot silently drift from the scripts.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type AnalysisLanguage, analysisPlan } from '../../server/devtools/analysis-plan.js';
import { parseAnalysis } from '../../server/devtools/diagnostics.js';
import { parseJUnitXml, testRunPlan } from '../../server/devtools/test-report.js';
import { DEFAULT_SANDBOX_IMAGE } from '../../server/version.js';
import { requireEngine } from '../helpers/engine.js';

const run = test.serial;
const IMAGE = DEFAULT_SANDBOX_IMAGE;
test.before(requireEngine);
const fixtures = fileURLToPath(new URL('../fixtures/devtools/', import.meta.url));

/** Run argv in the image like a Capsule run: no network, read-only root, tmpfs /tmp, uid 10001, no caps. */
async function sandbox(argv: string[], mounts: { capsule?: string; workspace?: string }): Promise<Map<string, Buffer>> {
  const base = mkdtempSync(join(tmpdir(), 'capsule-devtools-'));
  try {
    const out = join(base, 'out');
    mkdirSync(out);
    chmodSync(out, 0o777);
    const args = ['run', '--rm', '--network', 'none', '--read-only', '--tmpfs', '/tmp', '-u', '10001:10001', '--cap-drop', 'ALL'];
    args.push('--security-opt', 'no-new-privileges:true', '-v', `${out}:/capsule-out`, '-w', '/workspace');
    if (mounts.capsule) args.push('-v', `${mounts.capsule}:/capsule:ro`);
    args.push(...(mounts.workspace ? ['-v', `${mounts.workspace}:/workspace`] : ['--tmpfs', '/workspace']));
    await promisify(execFile)('docker', [...args, IMAGE, ...argv], { timeout: 120_000 }).catch((err: { code?: number }) => {
      if (typeof err.code !== 'number') throw err; // a non-zero exit is a result (failing tests, lint errors)
    });
    return new Map(readdirSync(out).map((f) => [f, readFileSync(join(out, f))]));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

const CASES: Array<[string, AnalysisLanguage, string]> = [
  ['js-undefined-var', 'javascript', 'main.js'],
  ['js-syntax-error', 'javascript', 'main.js'],
  ['js-sloppy-script', 'javascript', 'main.js'],
  ['ts-type-error', 'typescript', 'main.ts'],
  ['ts-clean', 'typescript', 'main.ts'],
  ['ts-syntax-error', 'typescript', 'main.ts'],
  ['ts-node-api', 'typescript', 'main.ts'],
  ['py-undefined-name', 'python', 'main.py'],
  ['py-syntax-error', 'python', 'main.py'],
];

for (const [name, language, fileName] of CASES) {
  run(`analysis in the image matches the fixture: ${name}`, async (t) => {
    const job = mkdtempSync(join(tmpdir(), 'capsule-devtools-job-'));
    t.teardown(() => rmSync(job, { recursive: true, force: true }));
    const plan = analysisPlan(language, fileName);
    for (const f of plan.files) writeFileSync(join(job, f.name), f.content, { mode: 0o444 });
    cpSync(join(fixtures, 'analysis', name, 'code.txt'), join(job, fileName));
    chmodSync(join(job, fileName), 0o444);
    chmodSync(job, 0o555);
    const live = await sandbox(plan.argv, { capsule: job });
    const dir = join(fixtures, 'analysis', name, 'capsule-out');
    const captured = new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
    t.deepEqual([...live.keys()].sort(), [...captured.keys()].sort());
    t.deepEqual(parseAnalysis(language, fileName, live), parseAnalysis(language, fileName, captured));
  });
}

run('test plans run pytest and node:test in the image and write JUnit XML', async (t) => {
  const pytest = mkdtempSync(join(tmpdir(), 'capsule-devtools-ws-'));
  const node = mkdtempSync(join(tmpdir(), 'capsule-devtools-ws-'));
  t.teardown(() => [pytest, node].forEach((d) => rmSync(d, { recursive: true, force: true })));
  writeFileSync(join(pytest, 'test_a.py'), 'import pytest\n\ndef test_ok():\n    assert 1\n\ndef test_bad():\n    assert 1 == 2, "nope"\n\n@pytest.mark.skip(reason="later")\ndef test_later():\n    pass\n');
  mkdirSync(join(node, 'test'));
  writeFileSync(join(node, 'test', 'a.test.js'), "const test = require('node:test');\ntest('ok', () => {});\ntest('bad', () => { throw new Error('nope'); });\ntest('later', { skip: true }, () => {});\n");
  writeFileSync(join(node, 'b.test.ts'), "import test from 'node:test';\ntest('typed', () => { const n: number = 1; void n; });\n");
  for (const dir of [pytest, node]) chmodSync(dir, 0o777);
  const py = parseJUnitXml((await sandbox(testRunPlan('pytest').argv, { workspace: pytest })).get('junit.xml')!.toString('utf8'));
  t.like(py, { passed: 1, failed: 1, skipped: 1 });
  t.deepEqual(readdirSync(pytest), ['test_a.py'], 'no __pycache__ or .pytest_cache left in the workspace');
  const js = parseJUnitXml((await sandbox(testRunPlan('node').argv, { workspace: node })).get('junit.xml')!.toString('utf8'));
  t.like(js, { passed: 2, failed: 1, skipped: 1 });
  const one = parseJUnitXml((await sandbox(testRunPlan('node', 'b.test.ts').argv, { workspace: node })).get('junit.xml')!.toString('utf8'));
  t.deepEqual(one.cases.map((c) => c.name), ['typed']);
});
