import { execFile } from 'node:child_process';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { demuxDockerStream } from '../server/runtime/docker/docker-stream-demux.js';
import { encodeJob, launcherEvents, LAUNCHER } from '../server/sandbox/container/launcher-protocol.js';

const run = promisify(execFile);
const docker = new Docker();

/** `docker run --rm` through the CLI: the reference users know. */
export async function dockerRunCli(image: string): Promise<number> {
  const t = performance.now();
  await run('docker', ['run', '--rm', '--network', 'none', image, 'echo', 'hi']);
  return performance.now() - t;
}

/** Raw dockerode create/start/wait/remove of `echo hi` with no output handling: the engine's own floor. */
export async function rawDockerode(image: string): Promise<number> {
  const t = performance.now();
  const c = await docker.createContainer({ Image: image, Cmd: ['echo', 'hi'], HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'none', Config: {} } }, Labels: { 'capsule.bench': 'true' } });
  try {
    await c.start();
    await c.wait();
  } finally {
    await c.remove({ force: true });
  }
  return performance.now() - t;
}

/** The engine's own attach-stream ceiling: 100 MB of stdout read through a raw dockerode attach, first byte to last. */
export async function rawAttachThroughput(image: string): Promise<number> {
  const c = await docker.createContainer({ Image: image, Cmd: ['head', '-c', '100000000', '/dev/zero'], HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'none', Config: {} } } });
  try {
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    let bytes = 0;
    let first = 0;
    const done = new Promise<void>((resolve) => stream.on('end', () => resolve()));
    stream.on('data', (d: Buffer) => {
      if (!first) first = performance.now();
      bytes += d.length;
    });
    await c.start();
    await done;
    return bytes / 1e6 / ((performance.now() - first) / 1000);
  } finally {
    await c.remove({ force: true });
  }
}

const LOCKED = { User: '10001:10001', HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'none', Config: {} }, Init: true, ReadonlyRootfs: true } };

/** Read a launcher's framed output until its exit frame. */
export async function untilExit(stream: NodeJS.ReadableStream): Promise<void> {
  for await (const e of launcherEvents(demuxDockerStream(stream as Readable))) if (e.kind === 'exit') return;
}

/**
 * The warm path's floor, on the engine alone: a started `capsule-launch --wait-job` container gets
 * `echo hi` as a job on its stdin; the figure is from the write until its exit frame (the container's
 * creation, before, and removal, after, are not timed). `waitMs`: how long the launcher waits for its
 * job first. A warm call reaches a launcher that has waited since its refill, on a machine idle since
 * the last call; a job written right after the start meets CPUs still busy with it, which measured
 * 2-3 ms faster than one written after 300 ms of idle (4.1 vs 6.1 ms p50 here, 2026-12-02).
 */
export async function warmJobFloor(image: string, waitMs = 0): Promise<{ total: number; job: number }> {
  const t = performance.now();
  const c = await docker.createContainer({ ...LOCKED, Image: image, Cmd: [LAUNCHER, '--wait-job'], OpenStdin: true, StdinOnce: true, AttachStdin: true, Labels: { 'capsule.bench': 'true' } });
  try {
    const s = (await c.attach({ stream: true, stdout: true, stderr: true, stdin: true, hijack: true })) as unknown as NodeJS.ReadWriteStream;
    await c.start();
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    const ready = performance.now();
    s.write(encodeJob({ cwd: '/workspace', argv: ['echo', 'hi'], env: { PATH: '/usr/bin:/bin' }, outputCap: null }));
    s.end();
    await untilExit(s);
    const job = performance.now() - ready;
    return { total: ready - t + job, job };
  } finally {
    await c.remove({ force: true });
  }
}
