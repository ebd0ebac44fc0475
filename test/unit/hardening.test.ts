import { testServices } from '../helpers/services.js';
import test from 'ava';
import { StaticTokenVerifier, loadTokens, newToken, isLoopbackHost } from '../../server/auth/tokens.js';
import { OwnerLimits } from '../../server/sandbox/limits/owner-limits.js';
import { Reaper } from '../../server/sandbox/reaper.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { prepareCommandRun } from '../../server/sandbox/runs/run-request.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { silentLog, testConfig, testProfile } from '../helpers/fixtures.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

test('tokens: inline and file entries verify; unknown tokens are refused', async (t) => {
  const { token, line } = newToken('ci');
  const dir = mkdtempSync(join(tmpdir(), 'capsule-tokens-'));
  writeFileSync(join(dir, 'tokens'), `# comment\n${line}\n`);
  const entries = loadTokens({ CAPSULE_TOKENS: 'alice:0123456789abcdef', CAPSULE_TOKENS_FILE: join(dir, 'tokens') });
  const verifier = new StaticTokenVerifier(entries);
  t.is((await verifier.verifyAccessToken(token)).clientId, 'ci');
  t.is((await verifier.verifyAccessToken('0123456789abcdef')).clientId, 'alice');
  await t.throwsAsync(verifier.verifyAccessToken('0123456789abcdeX'), { message: /unknown token/ });
  t.false(line.includes(token), 'the file holds only the hash');
});

test('tokens: malformed settings fail with the problem named', (t) => {
  t.throws(() => loadTokens({ CAPSULE_TOKENS: 'short:abc' }), { message: /at least 16 characters/ });
  t.throws(() => loadTokens({ CAPSULE_TOKENS: 'a:0123456789abcdef,a:0123456789abcdeg' }), { message: /defined twice/ });
  const dir = mkdtempSync(join(tmpdir(), 'capsule-tokens-'));
  writeFileSync(join(dir, 'tokens'), 'ci plaintext-token\n');
  t.throws(() => loadTokens({ CAPSULE_TOKENS_FILE: join(dir, 'tokens') }), { message: /line 1/ });
});

test('loopback detection', (t) => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) t.true(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) t.false(isLoopbackHost(h), h);
});

test('owner limits: concurrency per owner and a token bucket with retry hints', (t) => {
  let now = 0;
  const concurrency = new OwnerLimits(2, 100, () => now);
  const a1 = concurrency.enter('a');
  concurrency.enter('a');
  t.throws(() => concurrency.enter('a'), { message: /already has 2 runs/ });
  t.notThrows(() => concurrency.enter('b'), 'owners are limited separately');
  a1();
  t.notThrows(() => concurrency.enter('a'), 'a finished run frees its place');

  const rate = new OwnerLimits(10, 3, () => now);
  for (let i = 0; i < 3; i++) rate.enter('a')();
  const err = t.throws(() => rate.enter('a'));
  t.regex(err!.message, /exceeded 3 runs per minute/);
  t.is((err as unknown as { details: { retry_after_s: number } }).details.retry_after_s, 20);
  now += 20_000;
  t.notThrows(() => rate.enter('a'));
});

test('narrowing: lower limits apply, higher ones are refused', (t) => {
  const profiles = ProfileRegistry.fromProfiles([testProfile({ memoryBytes: 256 << 20, cpus: 1, pidsLimit: 64 })]);
  const job = prepareCommandRun({ command: 'x', limits: { memory_mb: 64, cpus: 0.5, pids: 16 } }, profiles, testConfig());
  t.deepEqual(job.limits, { memoryBytes: 64 << 20, cpus: 0.5, pids: 16 });
  t.throws(() => prepareCommandRun({ command: 'x', limits: { cpus: 2 } }, profiles, testConfig()), { message: /limits\.cpus 2 exceeds/ });
  t.throws(() => prepareCommandRun({ command: 'x', limits: { pids: 65 } }, profiles, testConfig()), { message: /limits\.pids 65 exceeds/ });
});

test('a disabled (networked) profile is listed but refused with the reason', (t) => {
  const profiles = ProfileRegistry.fromProfiles([testProfile(), testProfile({ name: 'net', network: 'egress', enabled: false, disabledReason: 'set CAPSULE_ALLOW_NETWORK_PROFILES=1' })]);
  t.is(profiles.all().length, 2);
  t.throws(() => prepareCommandRun({ command: 'x', profile: 'net' }, profiles, testConfig()), { message: /CAPSULE_ALLOW_NETWORK_PROFILES/ });
});

test('env allowlist: names outside it are refused', (t) => {
  const profiles = ProfileRegistry.fromProfiles([testProfile({ envAllowlist: ['LANG', 'APP_*'] })]);
  t.notThrows(() => prepareCommandRun({ command: 'x', env: { LANG: 'C', APP_MODE: 'x' } }, profiles, testConfig()));
  t.throws(() => prepareCommandRun({ command: 'x', env: { LD_PRELOAD: '/x.so' } }, profiles, testConfig()), { message: /LD_PRELOAD is not allowed/ });
});

test('reaper: removes containers of this instance that no live run owns, keeps live ones and other instances', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { runMs: Infinity };
  const service = testServices(runtime).sandbox;
  const live = service.runCommand({ command: 'sleep' });
  while (!runtime.calls.includes('start')) await new Promise((r) => setTimeout(r, 5));
  // An orphan of a crashed earlier start of the same instance, and a container of another instance.
  const orphan = await runtime.create({ ...runtime.lastSpec(), labels: { 'capsule.managed': 'true', 'capsule.instance': 'unit', 'capsule.run_id': 'run_old', 'capsule.kind': 'run' } });
  const foreign = await runtime.create({ ...runtime.lastSpec(), labels: { 'capsule.managed': 'true', 'capsule.instance': 'other', 'capsule.run_id': 'run_x', 'capsule.kind': 'run' } });
  const reaper = new Reaper({ runtime, log: silentLog, instance: { name: 'unit', bootId: 'now' }, isOwned: (l) => service.ownsContainer(l), intervalMs: 60_000 });
  t.is(await reaper.sweep(), 1);
  t.deepEqual(runtime.removed, [orphan]);
  t.true(runtime.containers.has(foreign));
  await service.shutdown();
  await live;
});
