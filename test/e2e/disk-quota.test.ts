import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireEngine, runtime } from '../helpers/engine.js';
import { hostSubvolumes, VOLUME_ROOT } from '../helpers/host-volumes.js';
import { httpClient } from '../helpers/mcp-client.js';
import { startServer, startServerExpectingFailure } from '../helpers/server-process.js';

test.before(requireEngine);

interface DiskQuota {
  enforced: boolean;
  mechanism: string;
  root: string;
  reason?: string;
}

test('list_profiles and system_info report disk_quota: enforced by btrfs simple quotas at the volume root', async (t) => {
  const server = await startServer();
  try {
    const { call, client } = await httpClient(server.url);
    const profiles = await call<{ disk_quota: DiskQuota }>('list_profiles', {});
    t.deepEqual(profiles.s.disk_quota, { enforced: true, mechanism: 'btrfs-squota', root: VOLUME_ROOT });
    t.regex(profiles.text, /disk quota: enforced \(btrfs-squota/);
    const info = await call<{ disk_quota: DiskQuota }>('system_info', {});
    t.deepEqual(info.s.disk_quota, profiles.s.disk_quota);
    // A run with files but no workspace reports its scratch /workspace (workspace_id null) over MCP.
    const r = await call<{ stdout: string; workspace: { workspace_id: string | null; bytes: number; quota_bytes: number; over_quota: boolean } }>('run_command', {
      // Two files: one of 300 MB would meet the 256 MiB fsize ulimit first.
      command: 'cat a && head -c 150000000 /dev/zero > b1 && head -c 150000000 /dev/zero > b2; echo rc=$?',
      files: [{ path: 'a', content: 'scratch ' }],
    });
    t.regex(r.s?.stdout ?? r.text, /^scratch rc=1\n/, 'the second 150 MB write fails at the 256 MiB profile size + slack');
    t.like(r.s.workspace, { workspace_id: null, quota_bytes: 256 * 1024 * 1024, over_quota: true });
    t.regex(r.text, /the scratch \/workspace is over quota/);
    await client.close();
  } finally {
    await server.stop();
  }
});

test('a root that is no btrfs: refused with CAPSULE_REQUIRE_DISK_QUOTA=1; with 0, a warning and enforced: false with the reason', async (t) => {
  const plain = mkdtempSync(join(tmpdir(), 'capsule-not-btrfs-'));
  const refused = await startServerExpectingFailure({ CAPSULE_VOLUME_ROOT: plain, CAPSULE_REQUIRE_DISK_QUOTA: '1', CAPSULE_POOL: '0' });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /CAPSULE_REQUIRE_DISK_QUOTA=1 but disk quotas are not enforced: .* is not a btrfs filesystem/);

  const server = await startServer({ CAPSULE_VOLUME_ROOT: plain, CAPSULE_REQUIRE_DISK_QUOTA: '0', CAPSULE_POOL: '0' });
  try {
    t.regex(server.stderr(), /disk quotas NOT enforced/);
    const { call, client } = await httpClient(server.url);
    const info = await call<{ disk_quota: DiskQuota }>('system_info', {});
    t.like(info.s.disk_quota, { enforced: false, mechanism: 'none', root: plain });
    t.regex(info.s.disk_quota.reason ?? '', /not a btrfs filesystem.*provision-volume-root\.sh/);
    // The fallback: today's anonymous volume, no usage report.
    const r = await call<{ stdout: string; workspace?: unknown }>('run_command', { command: 'cat a', files: [{ path: 'a', content: 'fallback' }] });
    t.is(r.s.stdout, 'fallback');
    t.is(r.s.workspace, undefined);
    await client.close();
  } finally {
    await server.stop();
  }
});

test('SIGKILL during a run with files, then a restart: its scratch volume and subvolume are reaped', async (t) => {
  const first = await startServer({ CAPSULE_POOL: '0' });
  const { call, client } = await httpClient(first.url);
  const started = await call<{ run_id: string }>('start_process', { command: 'sleep 120', files: [{ path: 'a', content: 'x' }] });
  const runId = started.s.run_id;
  const labels = { 'capsule.run_id': runId };
  t.is((await runtime.listVolumes(labels)).length, 1, 'the scratch volume exists while the run does');
  await first.stop('SIGKILL');
  await client.close().catch(() => undefined);
  t.is((await runtime.listVolumes(labels)).length, 1, 'SIGKILL left it behind');

  const second = await startServer({ CAPSULE_INSTANCE: first.instance, CAPSULE_POOL: '0' });
  try {
    const since = Date.now();
    const scratch = () => hostSubvolumes(first.instance).then((names) => names.filter((n) => n.includes(runId.replace(/_/g, '-'))));
    while (((await runtime.listVolumes(labels)).length > 0 || (await scratch()).length > 0) && Date.now() - since < 20_000) await new Promise((r) => setTimeout(r, 200));
    t.deepEqual(await runtime.listVolumes(labels), []);
    t.deepEqual(await scratch(), []);
    t.log(`scratch volume gone ${Date.now() - since} ms after the restart`);
  } finally {
    await second.stop();
  }
});
