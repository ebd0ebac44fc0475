import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { analysisPlan } from '../../server/devtools/analysis-plan.js';
import { parseAnalysis, parseNodeCheck, parseTscOutput } from '../../server/devtools/diagnostics.js';
import { InvalidInputError } from '../../server/errors.js';

// Each case under fixtures/devtools/analysis holds code.txt and the /capsule-out files that
// analysisPlan's argv wrote for it in capsule/sandbox:0.2.0 (read-only root, tmpfs /tmp, user 10001).
const caseDir = (name: string) => new URL(`../fixtures/devtools/analysis/${name}/`, import.meta.url);
function outputs(name: string): Map<string, Buffer> {
  const dir = new URL('capsule-out/', caseDir(name));
  return new Map(readdirSync(dir).map((f) => [f, readFileSync(new URL(f, dir))]));
}
const brief = (d: { line: number; column: number; severity: string; rule: string }) => `${d.line}:${d.column} ${d.severity} ${d.rule}`;

test('JavaScript: an undefined variable is a no-undef error on its line; complexity becomes metrics', (t) => {
  const { diagnostics, metrics } = parseAnalysis('javascript', 'main.js', outputs('js-undefined-var'));
  t.deepEqual(diagnostics.map(brief), ['8:18 error no-undef', '11:7 warning no-unused-vars']);
  t.deepEqual(diagnostics[0], { file: 'main.js', line: 8, column: 18, severity: 'error', rule: 'no-undef', message: "'nobody' is not defined." });
  // greet: if + && = 3; the arrow function: 1.
  t.deepEqual(metrics, { lines: 13, code_lines: 10, functions: 2, max_complexity: 3, avg_complexity: 2 });
});

test('JavaScript: a syntax error is reported once, from node --check, with line and column', (t) => {
  const { diagnostics, metrics } = parseAnalysis('javascript', 'main.js', outputs('js-syntax-error'));
  t.deepEqual(diagnostics, [{ file: 'main.js', line: 4, column: 9, severity: 'error', rule: 'syntax', message: "SyntaxError: Unexpected token ';'" }]);
  t.deepEqual(metrics, { lines: 4, code_lines: 4 });
});

test('JavaScript: a sloppy-mode script is linted as CommonJS rather than failing as a module', (t) => {
  const { diagnostics } = parseAnalysis('javascript', 'main.js', outputs('js-sloppy-script'));
  t.deepEqual(diagnostics.map(brief), ['2:1 error no-with', '3:15 error no-undef']);
});

test('TypeScript: a type error is reported with its TS code, even when the file uses an enum', (t) => {
  const { diagnostics, metrics } = parseAnalysis('typescript', 'main.ts', outputs('ts-type-error'));
  t.deepEqual(diagnostics, [{ file: 'main.ts', line: 7, column: 9, severity: 'error', rule: 'TS2322', message: "Type 'string' is not assignable to type 'number'." }]);
  // ESLint linted the enum's transform (mapped back through its source map): the enum counts as a function.
  t.like(metrics, { lines: 12, code_lines: 10, functions: 2, max_complexity: 1 });
});

test('TypeScript: an undefined name comes from tsc; comments and type-only lines are measured', (t) => {
  const { diagnostics, metrics } = parseAnalysis('typescript', 'main.ts', outputs('ts-clean'));
  t.deepEqual(diagnostics.map(brief), ['9:43 error TS2304']);
  t.deepEqual(metrics, { lines: 9, code_lines: 6, functions: 1, max_complexity: 1, avg_complexity: 1 });
});

test('TypeScript: syntax errors come from tsc, without a note about ESLint', (t) => {
  const { diagnostics, metrics } = parseAnalysis('typescript', 'main.ts', outputs('ts-syntax-error'));
  t.deepEqual(diagnostics.map(brief), ['2:22 error TS1005', '3:10 error TS1005', '3:11 error TS1005', '5:1 error TS1005']);
  t.deepEqual(metrics, { lines: 4, code_lines: 4 });
});

test('TypeScript: Node globals and built-in modules are not errors; unused locals are warnings', (t) => {
  const { diagnostics } = parseAnalysis('typescript', 'main.ts', outputs('ts-node-api'));
  t.deepEqual(diagnostics.map(brief), ['4:7 error TS2322', '4:7 warning TS6133']);
});

test('Python: pyflakes reports an undefined name as an error, unused imports as warnings; ast metrics', (t) => {
  const { diagnostics, metrics } = parseAnalysis('python', 'main.py', outputs('py-undefined-name'));
  t.deepEqual(diagnostics.map(brief), ['1:1 warning UnusedImport', '2:1 warning UnusedImport', '9:12 error UndefinedName']);
  t.is(diagnostics[2]!.message, "undefined name 'pi'");
  t.is(diagnostics[2]!.file, 'main.py');
  // area: 1 + if; main: 1 + for + if + and.
  t.deepEqual(metrics, { lines: 19, code_lines: 12, functions: 2, max_complexity: 4, avg_complexity: 3 });
});

test('Python: a syntax error is reported on its line', (t) => {
  const { diagnostics, metrics } = parseAnalysis('python', 'main.py', outputs('py-syntax-error'));
  t.deepEqual(diagnostics, [{ file: 'main.py', line: 5, column: 12, severity: 'error', rule: 'syntax', message: 'SyntaxError: invalid syntax' }]);
  t.deepEqual(metrics, { lines: 6, code_lines: 4 });
});

test('missing, failed or malformed outputs become info notes, not exceptions', (t) => {
  const none = parseAnalysis('python', 'main.py', new Map());
  t.deepEqual(none.diagnostics.map((d) => [d.severity, d.rule]), [
    ['info', 'capsule/missing-output'],
    ['info', 'capsule/missing-output'],
  ]);
  t.deepEqual(none.metrics, {});
  const broken = parseAnalysis(
    'javascript',
    'main.js',
    new Map([
      ['syntax.error.txt', Buffer.from('Traceback...\nError: spawnSync node ENOENT')],
      ['eslint-status.json', Buffer.from('{"exit_code":2,"stderr":"Oops! Something went wrong!"}')],
      ['metrics.json', Buffer.from('not json')],
    ]),
  );
  t.deepEqual(broken.diagnostics.map((d) => d.message), [
    'the syntax step failed: Error: spawnSync node ENOENT',
    'eslint failed (exit code 2): Oops! Something went wrong!',
    'metrics.json is not valid JSON',
  ]);
  const wrongShape = parseAnalysis('python', 'main.py', new Map([['syntax.json', Buffer.from('{"ok":"yes"}')]]));
  t.regex(wrongShape.diagnostics[0]!.message, /does not have the expected shape/);
});

test('node --check and tsc output parsers', (t) => {
  t.deepEqual(parseNodeCheck('/capsule/main.js:2\n  let x = ;\n          ^\n\nSyntaxError: Unexpected token \';\'\n    at wrapSafe'), {
    line: 2,
    column: 11,
    message: "SyntaxError: Unexpected token ';'",
  });
  t.is(parseNodeCheck('something else'), null);
  const tsc = parseTscOutput(
    [
      "../capsule/main.ts(3,5): error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'.",
      "  Type 'string' is not assignable to type 'number'.",
      '../capsule/other.ts(1,1): error TS2307: Cannot find module \'x\'.',
      'error TS5023: Unknown compiler option \'--bogus\'.',
    ].join('\n'),
    '/capsule/main.ts',
    'main.ts',
  );
  t.deepEqual(tsc.map((d) => [d.file, d.line, d.rule]), [
    ['main.ts', 3, 'TS2345'],
    ['../capsule/other.ts', 1, 'TS2307'],
    ['main.ts', 0, 'TS5023'],
  ]);
  t.is(tsc[0]!.message, "Argument of type 'string' is not assignable to parameter of type 'number'.\nType 'string' is not assignable to type 'number'.");
});

test('analysis plans: helper files for /capsule and an argv that only reads the code', (t) => {
  const py = analysisPlan('python', 'main.py');
  t.deepEqual(py.argv, ['python3', '-B', '/capsule/capsule_analyze.py', '/capsule/main.py']);
  t.deepEqual(py.files.map((f) => f.name), ['capsule_analyze.py']);
  const js = analysisPlan('javascript', 'app.mjs');
  t.deepEqual(js.argv, ['node', '--disable-warning=ExperimentalWarning', '/capsule/capsule_analyze.cjs', 'javascript', '/capsule/app.mjs']);
  t.deepEqual(js.files.map((f) => f.name), ['capsule_eslint.config.cjs', 'capsule_analyze.cjs']);
  const ts = analysisPlan('typescript', 'main.ts');
  t.deepEqual(ts.files.map((f) => f.name), ['capsule_eslint.config.cjs', 'capsule_analyze.cjs', 'capsule_node_shim.d.ts']);
  t.regex(ts.files[2]!.content, /declare module 'fs';/);
  t.true(ts.files.every((f) => f.content.length > 0 && !f.content.includes('\0')));
});

test('analysis file names are checked', (t) => {
  for (const [language, name] of [
    ['python', 'main.js'],
    ['javascript', '../main.js'],
    ['javascript', 'a b.js'],
    ['typescript', 'main.js'],
    ['javascript', 'capsule_analyze.cjs'],
    ['javascript', '-c.js'],
  ] as const) {
    t.throws(() => analysisPlan(language, name), { instanceOf: InvalidInputError }, `${language} ${name}`);
  }
  t.throws(() => analysisPlan('ruby' as 'python', 'main.rb'), { instanceOf: InvalidInputError, message: /supports python, javascript, typescript/ });
});
