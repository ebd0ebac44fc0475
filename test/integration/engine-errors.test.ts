import test from 'ava';
import { createServer, connect, type Server } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineUnavailableError, ImageMissingError } from '../../server/errors.js';
import { DockerRuntime } from '../../server/runtime/docker/docker-runtime.js';
import { realServices, requireEngine, shippedProfile } from '../helpers/engine.js';

test.before(requireEngine);

test('an unreachable engine is a clear engine_unavailable error naming the address', async (t) => {
  const rt = new DockerRuntime({ dockerHost: 'unix:///tmp/capsule-no-such-engine.sock' });
  const service = realServices({ runtime: rt }).sandbox;
  const err = await t.throwsAsync(service.runCommand({ command: 'echo hi' }), { instanceOf: EngineUnavailableError });
  t.regex(err!.message, /Docker engine not reachable at unix:\/\/\/tmp\/capsule-no-such-engine\.sock/);
  const ready = await service.engine.readiness();
  t.false(ready.ready);
});

test('when the engine comes back, runs work again without a restart', async (t) => {
  // A socket that forwards to the real engine, started only after the first (failing) call.
  const dir = mkdtempSync(join(tmpdir(), 'capsule-engine-'));
  const socketPath = join(dir, 'docker.sock');
  const service = realServices({ runtime: new DockerRuntime({ dockerHost: `unix://${socketPath}` }) }).sandbox;
  await t.throwsAsync(service.runCommand({ command: 'echo hi' }), { instanceOf: EngineUnavailableError });

  const proxy: Server = createServer((client) => {
    const upstream = connect('/var/run/docker.sock');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(socketPath, resolve));
  try {
    const r = await service.runCommand({ command: 'echo back' });
    t.is(r.stdout, 'back\n');
    t.true((await service.engine.readiness()).ready);
  } finally {
    proxy.close();
  }
});

test('a missing image says to run make images', async (t) => {
  const service = realServices({ profiles: [shippedProfile({ image: 'capsule/no-such-image:0' })] }).sandbox;
  const err = await t.throwsAsync(service.runCommand({ command: 'echo' }), { instanceOf: ImageMissingError });
  t.regex(err!.message, /capsule\/no-such-image:0.*make images/);
  const ready = await service.engine.readiness();
  t.false(ready.ready);
  t.regex(ready.ready ? '' : ready.reason, /make images/);
});
