import test from 'ava';
import { readFileSync } from 'node:fs';
import { detectFramework, parseJUnitXml, testRunPlan } from '../../server/devtools/test-report.js';
import { InvalidInputError } from '../../server/errors.js';

// Captured in capsule/sandbox:0.2.0 (pytest 7.2.1, Node 22.21.1); see the test names for what ran.
const fixture = (name: string) => readFileSync(new URL(`../fixtures/devtools/${name}`, import.meta.url), 'utf8');

test('pytest: 3 passed, 1 failed with its assertion message, 1 skipped with its reason', (t) => {
  const report = parseJUnitXml(fixture('pytest-junit.xml'));
  t.like(report, { passed: 3, failed: 1, skipped: 1, duration_ms: 27 });
  t.deepEqual(
    report.cases.map((c) => [c.classname, c.name, c.status]),
    [
      ['test_sample', 'test_add', 'passed'],
      ['test_sample.TestMath', 'test_add_negative', 'passed'],
      ['test_sample.TestMath', 'test_add_floats', 'passed'],
      ['test_sample', 'test_fails', 'failed'],
      ['test_sample', 'test_skipped', 'skipped'],
    ],
  );
  t.is(report.cases[3]!.message, 'AssertionError: two plus two should be five\nassert 4 == 5\n +  where 4 = add(2, 2)');
  t.is(report.cases[4]!.message, 'not ready yet');
  t.is(report.cases[0]!.message, undefined);
});

test('pytest: a fixture error counts as a failure, xfail as skipped', (t) => {
  const report = parseJUnitXml(fixture('pytest-errors-junit.xml'));
  t.like(report, { passed: 1, failed: 2, skipped: 1 });
  t.like(report.cases[0], { name: 'test_uses_broken', status: 'failed', message: 'failed on setup with "RuntimeError: fixture exploded"' });
  t.like(report.cases[1], { name: 'test_raises', status: 'failed', message: 'ValueError: bad value' });
  t.like(report.cases[2], { name: 'test_known_bug', status: 'skipped', message: 'known bug' });
});

test('node:test: top-level tests and a suite, in run order; todo counts as skipped', (t) => {
  const report = parseJUnitXml(fixture('node-junit.xml'));
  t.like(report, { passed: 3, failed: 1, skipped: 2 });
  t.deepEqual(
    report.cases.map((c) => [c.name, c.status]),
    [
      ['adds small numbers', 'passed'],
      ['adds negatives', 'passed'],
      ['fails on purpose', 'failed'],
      ['is skipped', 'skipped'],
      ['async passes', 'passed'],
      ['todo item', 'skipped'],
    ],
  );
  t.regex(report.cases[2]!.message!, /^two plus two should be five/);
  t.is(report.cases[0]!.classname, 'test');
  t.is(report.cases[4]!.duration_ms, 16.803);
  // The sum of the top-level entries: 1.299 + 3.365 + 16.803 + 0.617 ms.
  t.is(report.duration_ms, 22.084);
});

test('node:test: several files (ESM, CommonJS, TypeScript) in one report', (t) => {
  const report = parseJUnitXml(fixture('node-multi-junit.xml'));
  t.like(report, { passed: 5, failed: 1, skipped: 2 });
  t.deepEqual(report.cases.map((c) => c.name).filter((n) => n.includes('esm') || n.includes('typed')), ['esm works', 'typed double']);
});

test('node:test: a file that fails to load is a failed case named after the file', (t) => {
  const report = parseJUnitXml(fixture('node-load-failure-junit.xml'));
  t.like(report, { passed: 0, failed: 2, skipped: 0 });
  t.deepEqual(report.cases.map((c) => [c.name, c.status, c.message]), [
    ['broken.test.js', 'failed', 'test failed'],
    ['syntax.test.js', 'failed', 'test failed'],
  ]);
});

test('a bare <testsuite> root and a failure without a message attribute', (t) => {
  const report = parseJUnitXml('<testsuite time="1.5"><testcase name="a" time="0.5"><failure>line one\nline two</failure></testcase><testcase name="b"/></testsuite>');
  t.deepEqual(report, {
    passed: 1,
    failed: 1,
    skipped: 0,
    duration_ms: 1500,
    cases: [
      { name: 'a', status: 'failed', duration_ms: 500, message: 'line one\nline two' },
      { name: 'b', status: 'passed', duration_ms: 0 },
    ],
  });
});

test('malformed or foreign XML is refused', (t) => {
  t.throws(() => parseJUnitXml('<testsuites><testcase></testsuites>'), { instanceOf: InvalidInputError, message: /not well-formed XML/ });
  t.throws(() => parseJUnitXml('<html><body/></html>'), { instanceOf: InvalidInputError, message: /no <testsuites>/ });
  t.throws(() => parseJUnitXml(''), { instanceOf: InvalidInputError });
});

test('an empty run has no cases', (t) => {
  t.deepEqual(parseJUnitXml('<?xml version="1.0"?><testsuites></testsuites>'), { passed: 0, failed: 0, skipped: 0, duration_ms: 0, cases: [] });
});

test('run plans write JUnit XML to /capsule-out and narrow to a workspace path', (t) => {
  t.deepEqual(testRunPlan('pytest').argv, ['python3', '-B', '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--junitxml=/capsule-out/junit.xml']);
  t.deepEqual(testRunPlan('pytest', 'tests/test_a.py').argv.at(-1), '/workspace/tests/test_a.py');
  t.deepEqual(testRunPlan('node', './test').argv, [
    'node',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=junit',
    '--test-reporter-destination=/capsule-out/junit.xml',
    '/workspace/test',
  ]);
  t.is(testRunPlan('node', '--inspect').argv.at(-1), '/workspace/--inspect', 'a path can never become an option');
  t.throws(() => testRunPlan('pytest', '../etc/passwd'), { instanceOf: InvalidInputError });
  t.throws(() => testRunPlan('pytest', '/etc'), { instanceOf: InvalidInputError });
  t.throws(() => testRunPlan('jest' as 'node'), { instanceOf: InvalidInputError });
});

test('framework detection', (t) => {
  t.is(detectFramework(['src/app.py', 'tests/test_app.py']), 'pytest');
  t.is(detectFramework(['app_test.py']), 'pytest');
  t.is(detectFramework(['conftest.py']), 'pytest');
  t.is(detectFramework(['lib/a.test.ts']), 'node');
  t.is(detectFramework(['a.test.mjs', 'b.test.cjs', 'c.test.js']), 'node');
  t.is(detectFramework(['test/helpers/util.js']), 'node');
  t.is(detectFramework(['test/run.mjs']), 'node');
  t.is(detectFramework(['test_data.txt', 'src/index.js', 'testing/x.js', 'mytest/a.js']), null);
  t.is(detectFramework(['test/a.test.js', 'test_b.py']), 'pytest');
  t.is(detectFramework([]), null);
});
