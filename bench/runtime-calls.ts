/**
 * How long each ContainerRuntime call takes on this engine, beside the request timeout DockerRuntime
 * gives it: `npx tsx bench/runtime-calls.ts [--n 20]` (~6 s). The timeouts (runtime/docker/docker-client.ts)
 * should sit far above the p99 of a healthy engine. Figures, not assertions.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { pack } from 'tar-stream';
import type { ContainerSpec, RuntimeCall } from '../server/runtime/container-runtime.js';
import { DEFAULT_REQUEST_TIMEOUTS_MS, DockerRuntime } from '../server/runtime/docker/docker-runtime.js';
import { DEFAULT_SANDBOX_IMAGE } from '../server/version.js';
import { summarize, table } from './stats.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '20' } } });
const n = Number(values.n);
const runtime = new DockerRuntime();
const labels = { 'capsule.managed': 'true', 'capsule.kind': 'bench', 'capsule.instance': `bench-calls-${randomBytes(3).toString('hex')}` };
const samples = new Map<RuntimeCall, number[]>();

async function timed<T>(call: RuntimeCall, fn: () => Promise<T>): Promise<T> {
  const began = performance.now();
  const value = await fn();
  samples.set(call, [...(samples.get(call) ?? []), performance.now() - began]);
  return value;
}

function smallTar() {
  const archive = pack();
  archive.entry({ name: 'a.txt', mode: 0o644, uid: 10001, gid: 10001 }, 'x'.repeat(4096));
  archive.finalize();
  return PassThrough.from(archive as unknown as AsyncIterable<Buffer>);
}

const spec = (cmd: string[]): ContainerSpec => ({
  image: DEFAULT_SANDBOX_IMAGE, cmd, user: '10001:10001', workdir: '/', env: {}, labels, openStdin: false, memoryBytes: 64 << 20,
  nanoCpus: 5e8, pidsLimit: 32, ulimits: [], tmpfs: {}, volumes: [{ target: '/data', readOnly: false }], network: 'none',
  readOnlyRootfs: true, capDrop: ['ALL'], noNewPrivileges: true, init: true,
});

async function round(i: number): Promise<void> {
  await timed('info', () => runtime.info());
  await timed('inspectImage', () => runtime.inspectImage(DEFAULT_SANDBOX_IMAGE));
  await timed('list', () => runtime.list(labels));
  const id = await timed('create', () => runtime.create(spec(['sleep', 'infinity'])));
  try {
    await timed('putArchive', () => runtime.putArchive(id, '/data', smallTar()));
    await timed('statPath', () => runtime.statPath(id, '/data/a.txt'));
    const io = await timed('attach', () => runtime.attach(id));
    await timed('start', () => runtime.start(id));
    await timed('inspect', () => runtime.inspect(id));
    await timed('kill', () => runtime.kill(id, 'SIGKILL'));
    await io.closed;
    const tar = await timed('getArchive', () => runtime.getArchive(id, '/data'));
    for await (const _ of tar) void _;
  } finally {
    await timed('remove', () => runtime.remove(id));
  }
  const volume = `capsule-bench-calls-${i}-${randomBytes(3).toString('hex')}`;
  await timed('createVolume', () => runtime.createVolume(volume, labels));
  await timed('listVolumes', () => runtime.listVolumes(labels));
  await timed('removeVolume', () => runtime.removeVolume(volume));
}

for (let i = 0; i < n; i++) await round(i);
const rows = [...samples].map(([call, times]) => {
  const s = summarize(times);
  const timeout = DEFAULT_REQUEST_TIMEOUTS_MS[call];
  return { call, n: s.n, 'p50 (ms)': s.p50, 'p99 (ms)': s.p99, 'max (ms)': Math.round(Math.max(...times)), 'request timeout (ms)': timeout ?? 'none' };
});
console.log(table(rows));
