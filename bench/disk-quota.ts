/**
 * What kernel-enforced disk quotas cost: `npx tsx bench/disk-quota.ts [--n 10]` (~3 min; needs the
 * quota root, scripts/provision-volume-root.sh). Each figure side by side: quota'd (btrfs subvolume,
 * volume helper) vs plain Docker volumes (the fallback), on the real engine through the services.
 * Figures, not assertions.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../server/config.js';
import { ProfileRegistry } from '../server/sandbox/profiles/profiles.js';
import { SandboxService } from '../server/sandbox/sandbox-service.js';
import { WorkspaceService } from '../server/sandbox/workspaces/workspace-service.js';
import { realVolumes, runtime, shippedProfile } from '../test/helpers/engine.js';
import { silentLog } from '../test/helpers/fixtures.js';
import { summarize, table } from './stats.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '10' } } });
const n = Number(values.n);
const OWNER = 'bench';
const log = (...a: unknown[]) => console.error('[bench]', ...a);

function services(bounded: boolean) {
  const instance = { name: bounded ? 'bench-quota' : 'bench-plain', bootId: 'bench' };
  const config = loadConfig({ CAPSULE_POOL: '0', CAPSULE_MAX_WORKSPACES_PER_OWNER: '100' });
  const volumes = bounded ? realVolumes(instance.name) : undefined;
  const workspaces = new WorkspaceService({ runtime, log: silentLog, instance, config, ...(volumes ? { volumes } : {}) });
  const sandbox = new SandboxService({ runtime, profiles: ProfileRegistry.fromProfiles([shippedProfile()]), config, log: silentLog, instance, workspaces, ...(volumes ? { volumes } : {}) });
  return { workspaces, sandbox };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function series(fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await timed(fn));
  return out;
}

/** MB/s dd reports for 200 MiB (under the 256 MiB fsize ulimit) written with fsync into /workspace of a run on a workspace. */
async function throughput(s: ReturnType<typeof services>, id: string): Promise<number> {
  const r = await s.sandbox.runCommand({ command: 'dd if=/dev/zero of=big bs=1M count=200 conv=fsync 2>&1 | tail -n 1; rm -f big', workspace_id: id, timeout_ms: 120_000 }, { owner: OWNER });
  const m = /([\d.]+) ([MG])B\/s/.exec(r.stdout);
  return m ? Number(m[1]) * (m[2] === 'G' ? 1000 : 1) : NaN;
}

async function measure(bounded: boolean) {
  const s = services(bounded);
  const label = bounded ? 'quota (btrfs subvolume)' : 'plain Docker volume';
  log(label);
  if (bounded) await realVolumes('bench-quota').status();
  const createDelete = await series(async () => {
    const ws = await s.workspaces.create(OWNER);
    await s.workspaces.delete(OWNER, ws.workspace_id);
  });
  const ws = await s.workspaces.create(OWNER);
  await s.sandbox.runCommand({ command: 'mkdir -p d && for i in $(seq 100); do echo $i > d/$i; done && head -c 10000000 /dev/urandom > blob', workspace_id: ws.workspace_id }, { owner: OWNER });
  const usage = await series(() => s.workspaces.info(OWNER, ws.workspace_id));
  const others = await Promise.all(Array.from({ length: 9 }, () => s.workspaces.create(OWNER)));
  const list10 = await series(() => s.workspaces.list(OWNER));
  const coldFiles = await series(() => s.sandbox.runCommand({ command: 'cat a', files: [{ path: 'a', content: 'x' }] }, { owner: OWNER }));
  const coldPlain = await series(() => s.sandbox.runCommand({ command: 'true' }, { owner: OWNER }));
  const wsRun = await series(() => s.sandbox.runCommand({ command: 'ls > /dev/null', workspace_id: ws.workspace_id }, { owner: OWNER }));
  const mbps = [await throughput(s, ws.workspace_id), await throughput(s, ws.workspace_id), await throughput(s, ws.workspace_id)];
  for (const w of [ws, ...others]) await s.workspaces.delete(OWNER, w.workspace_id);
  await s.sandbox.shutdown();
  return { label, createDelete, usage, list10, coldFiles, coldPlain, wsRun, mbps };
}

const quota = await measure(true);
const plain = await measure(false);
const rows: Array<Record<string, string | number>> = [];
const add = (what: string, q: number[], p: number[]) => {
  const a = summarize(q);
  const b = summarize(p);
  rows.push({ what, 'quota p50 ms': a.p50, 'quota p95 ms': a.p95, 'plain p50 ms': b.p50, 'plain p95 ms': b.p95, 'added p50 ms': Math.round((a.p50 - b.p50) * 10) / 10 });
};
add('create_workspace + delete_workspace', quota.createDelete, plain.createDelete);
add('usage of one workspace (10 MB, 101 files)', quota.usage, plain.usage);
add('list_workspaces, 10 workspaces', quota.list10, plain.list10);
add('cold run with files (scratch /workspace)', quota.coldFiles, plain.coldFiles);
add('cold run without files (no volume: control)', quota.coldPlain, plain.coldPlain);
add('run on a workspace (incl. usage after)', quota.wsRun, plain.wsRun);
console.log(`n = ${n} per figure\n`);
console.log(table(rows));
console.log(`\nwrite throughput, 200 MiB dd conv=fsync in /workspace of a workspace run: quota ${quota.mbps.join(' / ')} MB/s, plain ${plain.mbps.join(' / ')} MB/s`);
