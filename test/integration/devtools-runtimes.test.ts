/**
 * analyze_code and run_tests through Capsule's own services under every OCI runtime: the analyzers,
 * pytest and node's test runner write their reports to /capsule-out, which under gVisor goes through
 * its gofer (devtools-sandbox.test.ts checks the parsers against fixtures with runc only).
 */
import test from 'ava';
import { realServices } from '../helpers/engine.js';
import { runtimeCases } from '../helpers/runtimes.js';

const OWNER = 'devtools-rt';

for (const rc of runtimeCases()) {
  test.before(rc.ready);
  const { tools: { devtools }, workspaces, sandbox } = realServices({ profiles: [rc.profile()] });

  test(`[${rc.label}] analyze_code: an undefined variable in JavaScript and a Python syntax error, with their lines`, async (t) => {
    const js = await devtools.analyzeCode({ language: 'javascript', code: 'function area(r) {\n  return Math.PI * r * r;\n}\n\nconsole.log(area(radius));\n' }, { owner: OWNER });
    t.is(js.run.status, 'exited', js.run.stderr);
    const undef = js.diagnostics.find((d) => d.rule === 'no-undef');
    t.is(undef?.line, 5, JSON.stringify(js.diagnostics));
    t.regex(undef?.message ?? '', /radius/);
    t.true((js.metrics['functions'] ?? 0) >= 1, JSON.stringify(js.metrics));
    const py = await devtools.analyzeCode({ language: 'python', code: 'def f(:\n    pass\n' }, { owner: OWNER });
    t.true(py.diagnostics.some((d) => d.severity === 'error' && d.line === 1), JSON.stringify(py.diagnostics));
    const ts = await devtools.analyzeCode({ language: 'typescript', code: 'const n: number = "one";\nconsole.log(n);\n' }, { owner: OWNER });
    t.true(ts.diagnostics.some((d) => d.severity === 'error' && d.line === 1), JSON.stringify(ts.diagnostics));
  });

  test(`[${rc.label}] run_tests: pytest and node's test runner in a workspace report passed, failed and skipped`, async (t) => {
    const ws = await workspaces.create(OWNER);
    t.teardown(() => workspaces.delete(OWNER, ws.workspace_id).catch(() => undefined));
    await workspaces.writeFiles(OWNER, ws.workspace_id, [
      { path: 'test_a.py', content: 'import pytest\n\ndef test_ok():\n    assert 1\n\ndef test_bad():\n    assert 1 == 2, "nope"\n\n@pytest.mark.skip(reason="later")\ndef test_later():\n    pass\n' },
      { path: 'test/a.test.js', content: "const test = require('node:test');\ntest('ok', () => {});\ntest('bad', () => { throw new Error('nope'); });\n" },
    ]);
    const py = await devtools.runTests({ workspace_id: ws.workspace_id, framework: 'pytest' }, { owner: OWNER });
    t.like(py, { framework: 'pytest', passed: 1, failed: 1, skipped: 1 }, py.report_error ?? py.run.stderr);
    t.regex(py.cases.find((c) => c.status === 'failed')?.message ?? '', /nope/);
    const js = await devtools.runTests({ workspace_id: ws.workspace_id, framework: 'node' }, { owner: OWNER });
    t.like(js, { framework: 'node', passed: 1, failed: 1, skipped: 0 }, js.report_error ?? js.run.stderr);
    // The runner's caches stayed out of the workspace, and the run went to this runtime.
    const listing = await workspaces.listFiles(OWNER, ws.workspace_id, '', true);
    t.deepEqual(listing.entries.filter((e) => e.type === 'file').map((e) => e.path).sort(), ['test/a.test.js', 'test_a.py']);
    const seen = await sandbox.runCommand({ command: 'ls -A', workspace_id: ws.workspace_id }, { owner: OWNER });
    t.is(seen.runtime, rc.runtime);
  });
}
