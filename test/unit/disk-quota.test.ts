import { testServices } from '../helpers/services.js';
import test from 'ava';
import { ConfigurationError } from '../../server/errors.js';
import { quotaSlack } from '../../server/sandbox/volumes/bounded-volumes.js';
import { WorkspaceService } from '../../server/sandbox/workspaces/workspace-service.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { silentLog, testConfig, testProfile, testVolumes } from '../helpers/fixtures.js';

const MiB = 1 << 20;

function enforcedRuntime(): FakeRuntime {
  const runtime = new FakeRuntime();
  runtime.volumeHelper.enforced = true;
  return runtime;
}

test('slack: 1/16 of the quota, from 4 MiB to 64 MiB', (t) => {
  t.is(quotaSlack(MiB), 4 * MiB);
  t.is(quotaSlack(256 * MiB), 16 * MiB);
  t.is(quotaSlack(1024 * MiB), 64 * MiB);
  t.is(quotaSlack(100 * 1024 * MiB), 64 * MiB);
});

test('without a btrfs root: not enforced, says why, warns; refuses to start when required', async (t) => {
  const runtime = new FakeRuntime();
  const status = await testVolumes(runtime).verify();
  t.like(status, { enforced: false, mechanism: 'none', root: '/var/lib/capsule/volumes' });
  t.regex(status.reason ?? '', /not a btrfs filesystem .*provision-volume-root\.sh/);
  t.false(await testVolumes(runtime).enabled(), 'falls back to plain volumes');
  await t.throwsAsync(testVolumes(runtime, { required: true }).verify(), { instanceOf: ConfigurationError, message: /CAPSULE_REQUIRE_DISK_QUOTA=1 but disk quotas are not enforced/ });
  await t.throwsAsync(testVolumes(runtime, { required: true }).enabled(), { message: /required .* but not enforced/ });
});

test('an engine that cannot answer yet is "not known", asked again later, never cached as the answer', async (t) => {
  const runtime = enforcedRuntime();
  const real = runtime.create.bind(runtime);
  runtime.create = async () => {
    const { EngineUnavailableError } = await import('../../server/errors.js');
    throw new EngineUnavailableError('engine down');
  };
  const volumes = testVolumes(runtime, { required: true });
  const first = await volumes.verify();
  t.false(first.enforced);
  t.regex(first.reason ?? '', /not known yet: engine down/);
  runtime.create = real;
  (volumes as unknown as { lastTry: null }).lastTry = null; // skip the 10 s back-off
  t.true((await volumes.status()).enforced);
});

test('the helper container is locked down: root with four capabilities, no network, read-only, the root bound in', async (t) => {
  const runtime = enforcedRuntime();
  await testVolumes(runtime).status();
  const spec = runtime.specs.find((s) => s.labels['capsule.kind'] === 'volume-helper')!;
  t.deepEqual(spec.cmd, ['/opt/capsule/capsule-volume', 'probe', 'unit']);
  t.deepEqual(spec.capDrop, ['ALL']);
  t.deepEqual(spec.capAdd, ['SYS_ADMIN', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER']);
  t.is(spec.network, 'none');
  t.true(spec.readOnlyRootfs);
  t.deepEqual(spec.binds, [{ source: '/var/lib/capsule/volumes', target: '/volumes', readOnly: false }]);
  t.is(runtime.containers.size, 0, 'removed after it ran');
});

test('a workspace is a quota-bound subvolume: limit = quota + slack, Docker volume bound to it, deleted with it', async (t) => {
  const runtime = enforcedRuntime();
  const volumes = testVolumes(runtime);
  const workspaces = new WorkspaceService({ runtime, log: silentLog, instance: { name: 'unit', bootId: 'test' }, config: testConfig({ CAPSULE_WORKSPACE_MAX_BYTES: String(64 * MiB) }), volumes });
  const ws = await workspaces.create('alice');
  const name = `capsule-${ws.workspace_id.replace('_', '-')}`;
  t.deepEqual(runtime.volumeHelper.subvolumes.get(`unit/${name}`), { limit: 68 * MiB, bytes: 16384, files: 0 });
  t.like(runtime.volumes.get(name), { 'capsule.quota': 'btrfs', 'capsule.owner': 'alice' });
  t.deepEqual(runtime.volumeOptions.get(name), { type: 'none', o: 'bind', device: `/var/lib/capsule/volumes/unit/${name}` });
  const [listed] = await workspaces.list('alice');
  t.like(listed, { workspace_id: ws.workspace_id, bytes: 16384, files: 0 });
  const mount = await workspaces.volumeFor('alice', ws.workspace_id);
  t.is(mount.driverOptions?.device, `/var/lib/capsule/volumes/unit/${name}`);
  await workspaces.delete('alice', ws.workspace_id);
  t.false(runtime.volumes.has(name));
  t.false(runtime.volumeHelper.subvolumes.has(`unit/${name}`));
});

test('a failing Docker volume create leaves no subvolume behind', async (t) => {
  const runtime = enforcedRuntime();
  runtime.createVolume = async () => {
    throw new Error('volume create refused');
  };
  const volumes = testVolumes(runtime);
  await t.throwsAsync(volumes.create([{ name: 'capsule-x', labels: {}, quotaBytes: MiB }]), { message: /refused/ });
  t.is(runtime.volumeHelper.subvolumes.size, 0);
});

test('a volume in use keeps its subvolume', async (t) => {
  const runtime = enforcedRuntime();
  const volumes = testVolumes(runtime);
  await volumes.create([{ name: 'capsule-busy', labels: {}, quotaBytes: MiB }]);
  runtime.removeVolume = async () => {
    const { BusyError } = await import('../../server/errors.js');
    throw new BusyError('in use');
  };
  await t.throwsAsync(volumes.remove(['capsule-busy']), { message: /in use/ });
  t.true(runtime.volumeHelper.subvolumes.has('unit/capsule-busy'));
});

test('a cold run with files gets a bounded scratch /workspace, reports its usage and removes it after the container', async (t) => {
  const runtime = enforcedRuntime();
  const service = testServices(runtime, { profiles: [testProfile({ tmpfsWorkspaceBytes: 8 * MiB })] }).sandbox;
  const r = await service.runCommand({ command: 'cat in.txt', files: [{ path: 'in.txt', content: 'hi' }] });
  t.like(r.workspace, { workspace_id: null, bytes: 16384, files: 0, quota_bytes: 8 * MiB, over_quota: false });
  const spec = runtime.specs.find((s) => s.labels['capsule.kind'] === 'run')!;
  const mount = spec.volumes.find((v) => v.target === '/workspace')!;
  t.regex(mount.source ?? '', /^capsule-scratch-run-[0-9a-f]+-ws$/);
  t.is(mount.driverOptionsIfCreated?.['device'], `/var/lib/capsule/volumes/unit/${mount.source}`, 'a re-created volume stays bounded');
  t.is(mount.labelsIfCreated?.['capsule.kind'], 'scratch');
  t.is(spec.tmpfs['/workspace'], undefined);
  await service.shutdown(); // waits for the deferred removal
  t.false(runtime.volumes.has(mount.source!));
  t.is(runtime.volumeHelper.subvolumes.size, 0);
  const order = runtime.calls.filter((c) => ['createVolume', 'create', 'remove', 'removeVolume'].includes(c));
  t.is(order.indexOf('createVolume') < order.lastIndexOf('create') ? 'before' : 'after', 'before', 'the volume exists before the run container');
  t.true(order.lastIndexOf('removeVolume') > order.indexOf('remove'), 'and is removed after it');
});

test('a run whose container cannot be created leaves no scratch volume', async (t) => {
  const runtime = enforcedRuntime();
  const service = testServices(runtime).sandbox;
  const realCreate = runtime.create.bind(runtime);
  runtime.create = async (spec) => {
    if (spec.labels['capsule.kind'] === 'run') throw new Error('fake create failure');
    return realCreate(spec);
  };
  await t.throwsAsync(service.runCommand({ command: 'x', files: [{ path: 'a', content: 'b' }] }), { message: /fake create failure/ });
  await service.shutdown();
  t.deepEqual([...runtime.volumes.keys()], []);
  t.is(runtime.volumeHelper.subvolumes.size, 0);
});

test('the sweep removes scratch volumes this server does not hold and subvolumes without a Docker volume', async (t) => {
  const runtime = enforcedRuntime();
  const earlier = testVolumes(runtime);
  await earlier.create([{ name: 'capsule-scratch-run-old-ws', labels: { 'capsule.kind': 'scratch', 'capsule.instance': 'unit', 'capsule.run_id': 'run_old' }, quotaBytes: MiB }]);
  runtime.volumeHelper.subvolumes.set('unit/capsule-orphan', { limit: MiB, bytes: 0, files: 0 });
  const now = testVolumes(runtime);
  await now.create([{ name: 'capsule-scratch-run-live-ws', labels: { 'capsule.kind': 'scratch', 'capsule.instance': 'unit', 'capsule.run_id': 'run_live' }, quotaBytes: MiB }]);
  t.is(await now.sweep(), 2);
  t.deepEqual([...runtime.volumes.keys()], ['capsule-scratch-run-live-ws'], 'the one it holds stays');
  t.deepEqual([...runtime.volumeHelper.subvolumes.keys()], ['unit/capsule-scratch-run-live-ws']);
});

test('without enforcement runs keep anonymous volumes and workspaces plain ones (the fallback)', async (t) => {
  const runtime = new FakeRuntime();
  const service = testServices(runtime).sandbox;
  const r = await service.runCommand({ command: 'x', files: [{ path: 'a', content: 'b' }] });
  t.is(r.workspace, undefined);
  const mount = runtime.lastSpec().volumes.find((v) => v.target === '/workspace');
  t.is(mount?.source, undefined, 'anonymous');
  // A "not enforced" answer is asked twice before it is kept; nothing else ran.
  t.deepEqual(runtime.volumeHelper.commands.map((c) => c[0]), ['probe', 'probe']);
});
