import test from 'ava';
import type { RunResult } from '../../server/sandbox/runs/run-result.js';
import type { CallOptions, RunHandle } from '../../server/sandbox/sandbox-service.js';
import { volumeName } from '../../server/sandbox/workspaces/workspace-service.js';
import { quotaSlack } from '../../server/sandbox/volumes/bounded-volumes.js';
import { containersLeft, realVolumes, realServices, requireEngine, runtime, shippedProfile } from '../helpers/engine.js';
import { hostEntries, hostQgroupBytes, hostQgroupLimit, hostSubvolumes } from '../helpers/host-volumes.js';

// Every bounded volume of this file lives under this instance: the leak checks look there.
const INSTANCE = 'itest-quota';
const OWNER = 'quota-test';
const MiB = 1 << 20;
const QUOTA = 64 * MiB;
const BOUND = QUOTA + 64 * MiB;

test.before(requireEngine);
const { sandbox, workspaces, volumes } = realServices({ env: { CAPSULE_WORKSPACE_MAX_BYTES: String(QUOTA), CAPSULE_ARTIFACT_MAX_BYTES: String(16 * MiB) }, instance: INSTANCE, profiles: [shippedProfile({ tmpfsWorkspaceBytes: 32 * MiB })] });

test.after.always(async () => {
  for (const v of await runtime.listVolumes({ 'capsule.instance': INSTANCE })) await volumes.remove([v.name]).catch(() => undefined);
  await volumes.sweep().catch(() => undefined);
});

// Three 50 MB writes, each reported; the program goes on after a failed write and exits 0.
const FILL = (dir: string) => `for i in 1 2 3; do dd if=/dev/zero of=${dir}/f$i bs=1M count=50 conv=fsync 2>&1 | tail -n 1 || true; done; echo end`;

/**
 * Run `command`, which prints "done" and then waits on stdin: the host's figure for `volume(runId)` is
 * read while the run holds still, then stdin is closed and the run ends. Nothing writes in between.
 */
async function runAndMeasure(
  start: (options: CallOptions) => Promise<RunHandle>,
  volume: (runId: string) => string,
): Promise<{ result: RunResult; host: number; limit: number; runId: string; outputs: ReadonlyMap<string, Buffer> }> {
  let host = -1;
  let limit = -1;
  let out = '';
  await using handle = await start({ owner: OWNER, stdinOpen: true });
  const { runId } = handle;
  for await (const chunk of handle.output) {
    out += chunk.data.toString();
    if (out.includes('done')) break;
  }
  try {
    host = await hostQgroupBytes(INSTANCE, volume(runId));
    limit = await hostQgroupLimit(INSTANCE, volume(runId));
  } finally {
    handle.closeStdin();
  }
  const result = await handle.wait();
  return { result, host, limit, runId, outputs: handle.outputs() };
}

test('a workspace run stops at quota + slack: dd fails with EDQUOT, the run exits, usage is exact and over quota', async (t) => {
  const ws = await workspaces.create(OWNER);
  const volume = volumeName(ws.workspace_id);
  t.is(await hostQgroupLimit(INSTANCE, volume), QUOTA + quotaSlack(QUOTA), 'the kernel holds the limit');
  const r = await sandbox.runCommand({ command: FILL('.'), workspace_id: ws.workspace_id }, { owner: OWNER });
  t.is(r.status, 'exited', r.stderr);
  t.is(r.exit_code, 0);
  t.regex(r.stdout, /Disk quota exceeded/);
  t.regex(r.stdout, /52428800 bytes .* copied/, 'the first write fits');
  t.true(r.workspace?.over_quota, JSON.stringify(r.workspace));
  const host = await hostQgroupBytes(INSTANCE, volume);
  t.is(r.workspace?.bytes, host, 'the result says what the host kernel counts');
  t.true(host > QUOTA && host <= BOUND, `${host} bytes on disk`);
  t.is(r.workspace?.files, await hostEntries(INSTANCE, volume));
  t.true((r.workspace?.files ?? 0) >= 2, 'f1 and the cut f2 at least');

  // Over quota: Capsule refuses its own writes; deleting files works even on a full volume, then writes do.
  await t.throwsAsync(workspaces.writeFiles(OWNER, ws.workspace_id, [{ path: 'more.txt', content: 'x' }]), { message: /quota exceeded/ });
  await workspaces.deleteFiles(OWNER, ws.workspace_id, ['f1', 'f2']);
  await workspaces.writeFiles(OWNER, ws.workspace_id, [{ path: 'more.txt', content: 'x' }]);
  const after = await workspaces.info(OWNER, ws.workspace_id);
  t.is(after.files, 1, "more.txt");
  t.true(after.bytes < 2 * MiB, `${after.bytes} bytes after deleting`);
  await workspaces.delete(OWNER, ws.workspace_id);
  t.false((await hostSubvolumes(INSTANCE)).includes(volume), 'deleting the workspace removes its subvolume');
});

test('a subvolume nested in a workspace by the run is bounded by the same limit and removed with it', async (t) => {
  const ws = await workspaces.create(OWNER);
  // chmod 000 at the end: hidden entries are still counted, and the subvolume still removed.
  const command = `btrfs subvolume create nest && mkdir nest/hidden && ${FILL('nest')}; chmod 000 nest/hidden nest`;
  const r = await sandbox.runCommand({ command, workspace_id: ws.workspace_id }, { owner: OWNER });
  t.is(r.status, 'exited', r.stderr);
  t.regex(r.stdout, /Create subvolume/);
  t.regex(r.stdout, /Disk quota exceeded/);
  t.true((r.workspace?.bytes ?? 0) <= BOUND, JSON.stringify(r.workspace));
  t.true(r.workspace?.over_quota);
  // nest, nest/hidden, f1 and the cut f2 (f3 cannot even be created), though the run hid them.
  t.is(r.workspace?.files, await hostEntries(INSTANCE, volumeName(ws.workspace_id)));
  t.true((r.workspace?.files ?? 0) >= 4, JSON.stringify(r.workspace));
  await workspaces.delete(OWNER, ws.workspace_id);
  t.false((await hostSubvolumes(INSTANCE)).includes(volumeName(ws.workspace_id)));
});

test('an anonymous /workspace (files, no workspace) is bounded by the profile size: EDQUOT, exact usage, removed after', async (t) => {
  const scratch = (runId: string) => `capsule-scratch-${runId.replace(/_/g, '-')}-ws`;
  const { result: r, host, limit, runId } = await runAndMeasure(
    (options) => sandbox.startCommand({ command: `${FILL('.')}; echo done; read x`, files: [{ path: 'in.txt', content: 'given' }], stdin: '' }, options),
    scratch,
  );
  t.is(r.status, 'exited', r.stderr);
  t.regex(r.stdout, /Disk quota exceeded/);
  t.is(limit, 32 * MiB + quotaSlack(32 * MiB));
  t.like(r.workspace, { workspace_id: null, bytes: host, quota_bytes: 32 * MiB, over_quota: true });
  t.true(host <= 32 * MiB + 64 * MiB, `${host} bytes`);
  await assertNothingLeft(t, runId);
});

test('/capsule-out of a tool run is bounded by CAPSULE_ARTIFACT_MAX_BYTES: EDQUOT, the run goes on, removed after', async (t) => {
  const out = (runId: string) => `capsule-scratch-${runId.replace(/_/g, '-')}-out`;
  const plan = { files: [], argv: (argv: string[]) => argv };
  const { result: r, host, runId, outputs } = await runAndMeasure(
    (options) => sandbox.startWithOutputs({ command: { command: `echo small > /capsule-out/note; ${FILL('/capsule-out')}; echo done; read x`, stdin: '' } }, plan, 'test', MiB, options),
    out,
  );
  t.is(r.status, 'exited', r.stderr);
  t.regex(r.stdout, /Disk quota exceeded/);
  t.true(host > 16 * MiB && host <= 16 * MiB + quotaSlack(16 * MiB), `${host} bytes`);
  t.is(outputs.get('note')?.toString(), 'small\n', 'files within the cap are still collected');
  await assertNothingLeft(t, runId);
});

test('the sweep removes scratch volumes of a dead run and subvolumes without a Docker volume', async (t) => {
  // What a crash leaves: made by "another boot" (a second BoundedVolumes), never removed.
  const earlier = realVolumes(INSTANCE);
  const labels = { 'capsule.managed': 'true', 'capsule.kind': 'scratch', 'capsule.run_id': 'run_dead', 'capsule.instance': INSTANCE };
  await earlier.create([{ name: 'capsule-scratch-run-dead-ws', labels, quotaBytes: MiB }]);
  await earlier.create([{ name: 'capsule-orphan-test', labels: { 'capsule.managed': 'true', 'capsule.kind': 'test', 'capsule.instance': INSTANCE }, quotaBytes: MiB }]);
  await runtime.removeVolume('capsule-orphan-test');
  t.true((await hostSubvolumes(INSTANCE)).includes('capsule-orphan-test'));
  t.true((await volumes.sweep()) >= 2);
  const left = await hostSubvolumes(INSTANCE);
  t.false(left.includes('capsule-scratch-run-dead-ws'));
  t.false(left.includes('capsule-orphan-test'));
  t.deepEqual(await runtime.listVolumes({ 'capsule.run_id': 'run_dead' }), []);
});

async function assertNothingLeft(t: import('ava').ExecutionContext, runId: string): Promise<void> {
  t.deepEqual((await containersLeft({ 'capsule.run_id': runId })).map((c) => c.id), []);
  // Removal of scratch volumes follows the result (deferred); give it a moment.
  const prefix = `capsule-scratch-${runId.replace(/_/g, '-')}`;
  let vols = await runtime.listVolumes({ 'capsule.run_id': runId });
  let subs = (await hostSubvolumes(INSTANCE)).filter((n) => n.startsWith(prefix));
  for (let i = 0; i < 50 && (vols.length || subs.length); i++) {
    await new Promise((r) => setTimeout(r, 100));
    vols = await runtime.listVolumes({ 'capsule.run_id': runId });
    subs = (await hostSubvolumes(INSTANCE)).filter((n) => n.startsWith(prefix));
  }
  t.deepEqual(vols.map((v) => v.name), [], 'no scratch Docker volume left');
  t.deepEqual(subs, [], 'no scratch subvolume left');
}
