import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ForbiddenError } from '../../server/errors.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { SandboxService } from '../../server/sandbox/sandbox-service.js';
import { loadConfig } from '../../server/config.js';
import { DEFAULT_SANDBOX_IMAGE, projectRoot } from '../../server/version.js';
import { requireEngine, runtime } from '../helpers/engine.js';
import { silentLog } from '../helpers/fixtures.js';
import { startServerExpectingFailure } from '../helpers/server-process.js';

test.before(requireEngine);

const shipped = join(projectRoot, 'sandbox-profiles');

function service(allowNetwork: boolean, dir = shipped) {
  const profiles = ProfileRegistry.load(dir, { defaultImage: DEFAULT_SANDBOX_IMAGE, allowNetwork });
  return new SandboxService({ runtime, profiles, config: loadConfig({}), log: silentLog, instance: { name: 'itest', bootId: 'profiles' } });
}

test('the shipped profiles load; networked is listed as disabled by default', (t) => {
  const list = service(false).listProfiles();
  t.deepEqual(list.map((p) => p.name), ['default', 'build', 'gvisor', 'networked', 'strict']);
  const networked = list.find((p) => p.name === 'networked')!;
  t.false(networked.enabled);
  t.regex(networked.disabled_reason ?? '', /CAPSULE_ALLOW_NETWORK_PROFILES=1/);
});

test('a disabled networked profile is refused', async (t) => {
  await t.throwsAsync(service(false).runCommand({ command: 'true', profile: 'networked' }), { instanceOf: ForbiddenError });
});

test('strict applies its smaller limits; a narrowed memory limit reaches the cgroup', async (t) => {
  const s = service(false);
  const strict = await s.runCommand({ profile: 'strict', command: 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max' });
  t.deepEqual(strict.stdout.trim().split('\n'), [String(128 * 1024 * 1024), '64']);
  const narrowed = await s.runCommand({ command: 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes', limits: { memory_mb: 100 } });
  t.is(narrowed.stdout.trim(), String(100 * 1024 * 1024));
});

test('an enabled networked profile attaches its network (an --internal one here: no traffic leaves)', async (t) => {
  const network = `capsule-test-${randomBytes(3).toString('hex')}`;
  execFileSync('docker', ['network', 'create', '--internal', network]);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'capsule-net-profiles-'));
    writeFileSync(join(dir, 'default.yaml'), readFileSync(join(shipped, 'default.yaml')));
    writeFileSync(join(dir, 'networked.yaml'), readFileSync(join(shipped, 'networked.yaml'), 'utf8').replace('network: capsule-egress', `network: ${network}`));
    const s = service(true, dir);
    t.true(await s.engine.verifyEngineSetup());
    const r = await s.runCommand({ profile: 'networked', command: 'ls /sys/class/net' });
    t.deepEqual(r.stdout.trim().split('\n').sort(), ['eth0', 'lo']);
  } finally {
    execFileSync('docker', ['network', 'rm', network]);
  }
});

test('start-up fails naming a runtime or network the engine lacks', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-runtime-profiles-'));
  writeFileSync(join(dir, 'default.yaml'), `runtime: runsc-missing\n${readFileSync(join(shipped, 'default.yaml'), 'utf8')}`);
  const runtimeMissing = await startServerExpectingFailure({ CAPSULE_PROFILES_DIR: dir });
  t.is(runtimeMissing.code, 1);
  t.regex(runtimeMissing.stderr, /profile "default" needs the OCI runtime "runsc-missing", which the engine does not offer/);

  const netDir = mkdtempSync(join(tmpdir(), 'capsule-missing-net-'));
  writeFileSync(join(netDir, 'default.yaml'), readFileSync(join(shipped, 'default.yaml')));
  writeFileSync(join(netDir, 'networked.yaml'), readFileSync(join(shipped, 'networked.yaml'), 'utf8').replace('network: capsule-egress', 'network: capsule-no-such-net'));
  const networkMissing = await startServerExpectingFailure({ CAPSULE_PROFILES_DIR: netDir, CAPSULE_ALLOW_NETWORK_PROFILES: '1' });
  t.is(networkMissing.code, 1);
  t.regex(networkMissing.stderr, /network "capsule-no-such-net" .* does not exist/);
});

test('a profile seccomp file is enforced by the engine', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-seccomp-profiles-'));
  writeFileSync(join(dir, 'no-mkdir.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
  writeFileSync(join(dir, 'default.yaml'), `seccomp: no-mkdir.json\n${readFileSync(join(shipped, 'default.yaml'), 'utf8')}`);
  const s = service(false, dir);
  t.is(s.listProfiles()[0]!.seccomp, 'custom');
  const r = await s.runCommand({ command: 'mkdir /tmp/blocked 2>&1; echo "rc=$?"; touch /tmp/allowed && echo touched' });
  t.regex(r.stdout, /Operation not permitted/);
  t.regex(r.stdout, /rc=1/);
  t.regex(r.stdout, /touched/);
});
