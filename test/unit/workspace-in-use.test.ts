import test from 'ava';
import { BusyError } from '../../server/errors.js';
import { WorkspaceService } from '../../server/sandbox/workspaces/workspace-service.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { silentLog, testConfig, testVolumes } from '../helpers/fixtures.js';

// The runtime only reports that a volume is in use (VolumeInUseError); the workspace service decides
// that a client sees `busy` and may retry when the run ends.

for (const enforced of [false, true]) {
  test(`deleting a workspace a container still mounts is busy with retry_after_s, and works once the container is gone (${enforced ? 'quota' : 'plain'} volume)`, async (t) => {
    const runtime = new FakeRuntime();
    runtime.volumeHelper.enforced = enforced;
    const volumes = testVolumes(runtime);
    const workspaces = new WorkspaceService({ runtime, log: silentLog, instance: { name: 'unit', bootId: 'test' }, config: testConfig(), volumes });
    const ws = await workspaces.create('alice');
    const mount = await workspaces.volumeFor('alice', ws.workspace_id);
    const id = await runtime.create({ ...runtime.lastSpec(), cmd: ['true'], labels: { 'capsule.kind': 'run' }, volumes: [{ source: mount.volume, target: '/workspace', readOnly: false }] });
    const err = await t.throwsAsync(workspaces.delete('alice', ws.workspace_id), { instanceOf: BusyError });
    t.regex(err!.message, /in use by a running container; retry when it ends/);
    t.is(err!.details['retry_after_s'], 5);
    t.true(runtime.volumes.has(mount.volume), 'the volume is kept');
    if (enforced) t.true(runtime.volumeHelper.subvolumes.has(`unit/${mount.volume}`), 'and its subvolume');
    await runtime.remove(id);
    await workspaces.delete('alice', ws.workspace_id);
    t.false(runtime.volumes.has(mount.volume));
  });
}
