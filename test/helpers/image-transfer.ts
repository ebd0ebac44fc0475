import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

// Moving images between engines on one machine (there is no registry): measured here, the 447 MB
// sandbox image takes ~12 s into an empty engine.

const run = promisify(execFile);

/** The image's id on the engine at `host` (default: the one DOCKER_HOST names), or null when absent. */
export async function imageId(image: string, host?: string): Promise<string | null> {
  const args = [...(host ? ['-H', host] : []), 'image', 'inspect', '--format', '{{.Id}}', image];
  return run('docker', args).then(
    ({ stdout }) => stdout.trim() || null,
    () => null,
  );
}

/** `docker save image | docker -H host load`: the way to copy an image between engines without a registry. */
export function saveAndLoad(image: string, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const save = spawn('docker', ['save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    const load = spawn('docker', ['-H', host, 'load', '-q'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let errors = '';
    save.stderr.on('data', (d: Buffer) => (errors += d));
    load.stderr.on('data', (d: Buffer) => (errors += d));
    save.stdout.pipe(load.stdin);
    let pending = 2;
    const done = (code: number | null) => {
      if (code !== 0) reject(new Error(`docker save ${image} | docker -H ${host} load failed: ${errors}`));
      else if (--pending === 0) resolve();
    };
    save.once('exit', done);
    load.once('exit', done);
  });
}
