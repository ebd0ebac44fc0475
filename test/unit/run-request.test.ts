import test from 'ava';
import { InvalidInputError, ProfileNotFoundError } from '../../server/errors.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { prepareCodeRun, prepareCommandRun } from '../../server/sandbox/runs/run-request.js';
import { testConfig, testProfile } from '../helpers/fixtures.js';

const profiles = ProfileRegistry.fromProfiles([testProfile()]);
const limits = testConfig({ CAPSULE_MAX_CODE_BYTES: '100', CAPSULE_MAX_STDIN_BYTES: '10', CAPSULE_MAX_ENV_VARS: '2' });

test('a command becomes /bin/sh -c with profile defaults', (t) => {
  const job = prepareCommandRun({ command: 'echo hi' }, profiles, limits);
  t.deepEqual(job.argv, ['/bin/sh', '-c', 'echo hi']);
  t.is(job.timeoutMs, 5000);
  t.is(job.workdir, '/workspace');
  t.regex(job.runId, /^run_[0-9a-f]{16}$/);
  t.notRegex(job.summary, /echo/);
});

test('code becomes a read-only file and an argv; never a shell string', (t) => {
  const job = prepareCodeRun({ language: 'python', code: 'print(1)', args: ['a b'] }, profiles, limits);
  t.deepEqual(job.argv, ['python3', '/capsule/main.py', 'a b']);
  t.is(job.jobFiles[0]!.content.toString(), 'print(1)');
  t.is(job.jobFiles[0]!.mode, 0o444);
});

const bad: Array<[string, () => unknown, RegExp]> = [
  ['empty command', () => prepareCommandRun({ command: '  ' }, profiles, limits), /command must not be empty/],
  ['NUL in command', () => prepareCommandRun({ command: 'a\0b' }, profiles, limits), /NUL/],
  ['timeout too large', () => prepareCommandRun({ command: 'x', timeout_ms: 10_001 }, profiles, limits), /timeout_ms must be an integer from 1 to 10000/],
  ['timeout zero', () => prepareCommandRun({ command: 'x', timeout_ms: 0 }, profiles, limits), /timeout_ms/],
  ['oversized stdin', () => prepareCommandRun({ command: 'x', stdin: 'x'.repeat(11) }, profiles, limits), /stdin is 11 bytes; the limit is 10 bytes/],
  ['oversized code', () => prepareCodeRun({ language: 'bash', code: 'x'.repeat(101) }, profiles, limits), /code is 101 bytes; the limit is 100/],
  ['unknown language', () => prepareCodeRun({ language: 'cobol', code: 'x' }, profiles, limits), /unknown language "cobol"/],
  ['bad env name', () => prepareCommandRun({ command: 'x', env: { 'A-B': '1' } }, profiles, limits), /env name "A-B"/],
  ['too many env vars', () => prepareCommandRun({ command: 'x', env: { A: '1', B: '2', C: '3' } }, profiles, limits), /env has 3 variables/],
  ['relative workdir', () => prepareCommandRun({ command: 'x', workdir: 'tmp' }, profiles, limits), /absolute/],
  ['workdir outside', () => prepareCommandRun({ command: 'x', workdir: '/workspace/../etc' }, profiles, limits), /inside \/workspace or \/tmp/],
];
for (const [name, fn, message] of bad) {
  test(`rejects ${name} with a clear message`, (t) => {
    const err = t.throws(fn, { instanceOf: InvalidInputError });
    t.regex(err!.message, message);
  });
}

test('unknown profile is profile_not_found', (t) => {
  const err = t.throws(() => prepareCommandRun({ command: 'x', profile: 'gpu' }, profiles, limits), { instanceOf: ProfileNotFoundError });
  t.is(err!.code, 'profile_not_found');
});

test('workdir inside /tmp is accepted and normalised', (t) => {
  t.is(prepareCommandRun({ command: 'x', workdir: '/tmp/a/../b/' }, profiles, limits).workdir, '/tmp/b');
});
