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
