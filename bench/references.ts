import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Docker from 'dockerode';

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
