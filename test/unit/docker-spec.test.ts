import test from 'ava';
import { createOptions, tmpfsOptions } from '../../server/runtime/docker/docker-spec.js';
import { buildContainerSpec } from '../../server/sandbox/container/container-spec.js';
import { WorkspaceService } from '../../server/sandbox/workspaces/workspace-service.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { silentLog, testConfig, testProfile, testVolumes } from '../helpers/fixtures.js';

// The typed hardening fields become exactly the Docker options the spec builders wrote as strings
// before they were typed: the engine gets the same containers.

const KiB = 1024;

function runSpec(profile = testProfile()) {
  return buildContainerSpec({
    profile,
    limits: { memoryBytes: 64 << 20, cpus: 1, pids: 64 },
    argv: ['true'],
    env: {},
    workdir: '/workspace',
    openStdin: false,
    withJobDir: true,
    workspaceMount: null,
    labels: { 'capsule.managed': 'true' },
  });
}

test('a run: no-new-privileges and the profile seccomp as SecurityOpt, tmpfs /tmp and /workspace as before', (t) => {
  const profile = testProfile({ tmpfsTmpBytes: 64 * KiB, tmpfsWorkspaceBytes: 128 * KiB, seccompJson: '{"defaultAction":"SCMP_ACT_ALLOW"}' });
  const host = createOptions(runSpec(profile)).HostConfig!;
  t.deepEqual(host.SecurityOpt, ['no-new-privileges:true', 'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']);
  t.deepEqual(host.Tmpfs, {
    '/tmp': 'rw,nosuid,nodev,size=65536,mode=1777',
    '/workspace': 'rw,nosuid,nodev,size=131072,uid=10001,gid=10001,mode=0755',
  });
  t.deepEqual(host.CapDrop, ['ALL']);
  t.is(host.CapAdd, undefined);
  t.true(host.ReadonlyRootfs);
});

test('without a profile seccomp file the engine default applies (no seccomp option)', (t) => {
  t.deepEqual(createOptions(runSpec()).HostConfig!.SecurityOpt, ['no-new-privileges:true']);
});

test('tmpfs options: size in bytes, owner only when given, mode in four octal digits', (t) => {
  t.is(tmpfsOptions({ sizeBytes: 1 << 20, mode: 0o1777 }), 'rw,nosuid,nodev,size=1048576,mode=1777');
  t.is(tmpfsOptions({ sizeBytes: 4096, mode: 0o700, uid: 0, gid: 5 }), 'rw,nosuid,nodev,size=4096,uid=0,gid=5,mode=0700');
});

test('the volume helper: four capabilities added back and no-new-privileges; the workspace helper: none added', async (t) => {
  const runtime = new FakeRuntime();
  runtime.volumeHelper.enforced = true;
  await testVolumes(runtime).status();
  const volumeHelper = createOptions(runtime.specs.find((s) => s.labels['capsule.kind'] === 'volume-helper')!).HostConfig!;
  t.deepEqual(volumeHelper.CapAdd, ['SYS_ADMIN', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER']);
  t.deepEqual(volumeHelper.SecurityOpt, ['no-new-privileges:true']);

  const workspaces = new WorkspaceService({ runtime, log: silentLog, instance: { name: 'unit', bootId: 'test' }, config: testConfig() });
  await workspaces.create('alice');
  const helper = createOptions(runtime.specs.find((s) => s.labels['capsule.kind'] === 'helper')!).HostConfig!;
  t.deepEqual(helper.CapDrop, ['ALL']);
  t.is(helper.CapAdd, undefined);
  t.deepEqual(helper.SecurityOpt, ['no-new-privileges:true']);
  t.deepEqual(helper.Tmpfs, {});
});
