/**
 * What each fast-path design costs, measured on the engine directly (no MCP, no Capsule server):
 *   cold      create + attach + start + wait for the launcher's exit frame (Capsule's cold path)
 *   exec      `docker exec` into an already started container: create exec, start (attach), inspect
 *   warm job  Capsule's warm path: job written to a started launcher's stdin, until its exit frame
 *   netns     cold, but joining an existing container's network namespace (NetworkMode container:<id>)
 * Run: npx tsx bench/alternatives.ts
 */
import Docker from 'dockerode';
import { DEFAULT_SANDBOX_IMAGE } from '../server/version.js';
import { LAUNCHER } from '../server/sandbox/container/launcher-protocol.js';
import { untilExit, warmJobFloor } from './references.js';
import { summarize, table } from './stats.js';

const docker = new Docker();
const N = Number(process.env['N'] ?? 15);
const base = { Image: DEFAULT_SANDBOX_IMAGE, User: '10001:10001', HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'none', Config: {} }, Init: true, ReadonlyRootfs: true } };

async function cold(hostConfig = {}): Promise<number> {
  const t = performance.now();
  const c = await docker.createContainer({ ...base, Cmd: [LAUNCHER, '--', 'echo', 'hi'], HostConfig: { ...base.HostConfig, ...hostConfig } });
  const s = await c.attach({ stream: true, stdout: true, stderr: true });
  await c.start();
  await untilExit(s);
  const ms = performance.now() - t;
  await c.remove({ force: true });
  return ms;
}

async function exec(target: Docker.Container): Promise<number> {
  const t = performance.now();
  const e = await target.exec({ Cmd: ['echo', 'hi'], AttachStdout: true, AttachStderr: true, User: '10001:10001' });
  const s = await e.start({ hijack: true, stdin: false });
  await new Promise((r) => s.on('end', r).resume());
  await e.inspect();
  return performance.now() - t;
}

async function main() {
  const rows: Array<Record<string, string | number>> = [];
  const coldT: number[] = [];
  for (let i = 0; i < N; i++) coldT.push(await cold());
  rows.push({ design: 'cold: create+attach+start, until exit frame', ...pick(summarize(coldT)) });

  const target = await docker.createContainer({ ...base, Cmd: ['sleep', '600'] });
  await target.start();
  const execT: number[] = [];
  for (let i = 0; i < N; i++) execT.push(await exec(target));
  rows.push({ design: 'docker exec into a started container', ...pick(summarize(execT)) });
  const netnsT: number[] = [];
  for (let i = 0; i < N; i++) netnsT.push(await cold({ NetworkMode: `container:${target.id}` }));
  rows.push({ design: 'cold, joining an existing network namespace', ...pick(summarize(netnsT)) });
  await target.remove({ force: true });

  const jobT: number[] = [];
  for (let i = 0; i < N; i++) jobT.push((await warmJobFloor(DEFAULT_SANDBOX_IMAGE)).job);
  rows.push({ design: 'warm: job on a waiting launcher\'s stdin, until exit frame', ...pick(summarize(jobT)) });
  console.log(table(rows));
}

const pick = (s: ReturnType<typeof summarize>) => ({ n: s.n, p50_ms: s.p50, p95_ms: s.p95 });

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
