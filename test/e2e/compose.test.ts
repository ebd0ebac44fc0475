import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { CAPSULE_VERSION, projectRoot } from '../../server/version.js';
import { requireEngine, runtime } from '../helpers/engine.js';
import { httpClient } from '../helpers/mcp-client.js';

const run = promisify(execFile);
const compose = (args: string[], env: Record<string, string> = {}) =>
  run('docker-compose', args, { cwd: projectRoot, env: { ...process.env, ...env }, maxBuffer: 16 << 20 });

test.before(requireEngine);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test('docker-compose -f compose.yaml config passes', async (t) => {
  const { stdout } = await compose(['-f', 'compose.yaml', 'config']);
  for (const service of ['capsule', 'docker-proxy', 'jaeger', 'sandbox-image']) t.regex(stdout, new RegExp(`\\n  ${service}:`));
  t.regex(stdout, /DOCKER_HOST: tcp:\/\/docker-proxy:2375/);
  t.regex(stdout, /OTEL_EXPORTER_OTLP_ENDPOINT: http:\/\/jaeger:4318/);
  t.regex(stdout, /image: capsule\/docker-proxy:/, 'the proxy is built locally (no registry needed)');
});

test('compose: capsule reaches the engine only through docker-proxy, serves MCP calls (warm, cold, stdin); the proxy refuses exec and build', async (t) => {
  for (const [image, target] of [[`capsule/server:${CAPSULE_VERSION}`, 'server'], [`capsule/docker-proxy:${CAPSULE_VERSION}`, 'docker-proxy']]) {
    if (!(await runtime.inspectImage(image!))) throw new Error(`${image} is missing: run bash images/build.sh ${target} (.ci/run does)`);
  }
  const port = await freePort();
  const proxyPort = await freePort();
  const project = `capsuletest${randomBytes(3).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  const env = {
    CAPSULE_PUBLISH_PORT: String(port),
    CAPSULE_ALLOWED_HOSTS: '127.0.0.1',
    CAPSULE_TOKENS: `compose:${token}`,
    CAPSULE_TEST_INSTANCE: project,
    CAPSULE_TEST_PROXY_PORT: String(proxyPort),
  };
  const files = ['-p', project, '-f', 'compose.yaml', '-f', 'test/compose.override.yaml'];
  // fetch() through the engine's port proxy can leave no active handle while it waits; keep the loop alive.
  const keepAlive = setInterval(() => undefined, 1000);
  // If the worker ends before `finally` (ava's timeout), still take the compose project down.
  const downOnExit = () => {
    try {
      execFileSync('docker-compose', [...files, 'down', '-v', '--remove-orphans'], { cwd: projectRoot, env: { ...process.env, ...env }, stdio: 'ignore', timeout: 60_000 });
    } catch {
      // best effort while exiting
    }
  };
  process.once('exit', downOnExit);
  try {
    await compose([...files, 'up', '-d', '--no-deps', '--no-build', 'docker-proxy', 'capsule'], env);
    const base = `http://127.0.0.1:${port}`;
    let ready = 0;
    for (let i = 0; i < 120 && ready !== 200; i++) {
      // Until the server listens, the engine's port proxy accepts and then holds connections: time out each try.
      ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
      if (ready !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    t.is(ready, 200, (await compose([...files, 'logs', 'capsule'], env).catch((e: { stdout?: string }) => e)).stdout ?? '');
    t.is((await fetch(`${base}/v1/runs/run_x`, { signal: AbortSignal.timeout(10_000) })).status, 401, 'served on 0.0.0.0 in its container, so a token is required');
    const { call, client } = await httpClient(new URL(`${base}/mcp`), { authorization: `Bearer ${token}` });
    const r = await call<{ stdout: string; status: string }>('run_command', { command: 'echo from compose; id -u' });
    t.is(r.s.stdout, 'from compose\n10001\n');
    // stdin needs the attach upgrade to pass the proxy (cold path: stdin is opened at create).
    const cold = await call<{ stdout: string }>('run_command', { command: 'cat', stdin: 'stdin through the proxy' });
    t.is(cold.s.stdout, 'stdin through the proxy');
    // The warm path hands its job over on an upgraded attach made before the container started.
    let warmRuns = 0;
    for (let i = 0; i < 20 && warmRuns === 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const w = await call<{ stdout: string }>('run_command', { command: 'echo warm' });
      t.is(w.s.stdout, 'warm\n');
      const { stdout: logs } = await compose([...files, 'logs', '--no-color', 'capsule'], env);
      warmRuns = (logs.match(/"path":"warm"/g) ?? []).length;
    }
    t.true(warmRuns > 0, 'a run took a warm container through the proxy');
    // Disk quotas through the proxy: the volume helper made, measured and removed a scratch /workspace.
    const info = await call<{ disk_quota: { enforced: boolean; mechanism: string } }>('system_info', {});
    t.like(info.s.disk_quota, { enforced: true, mechanism: 'btrfs-squota' });
    const scratch = await call<{ stdout: string; workspace: { workspace_id: null; bytes: number; over_quota: boolean } }>('run_command', { command: 'cat in.txt', files: [{ path: 'in.txt', content: 'bounded' }] });
    t.is(scratch.s?.stdout, 'bounded', scratch.text);
    t.like(scratch.s.workspace, { workspace_id: null, over_quota: false });
    t.true(scratch.s.workspace.bytes > 0);
    await client.close();
    // What the proxy refuses and allows (its port is published on loopback by the test override only).
    const proxy = `http://127.0.0.1:${proxyPort}`;
    const status = (path: string, method = 'GET') => fetch(`${proxy}${path}`, { method, signal: AbortSignal.timeout(10_000) }).then((res) => res.status);
    t.is(await status('/_ping'), 200);
    t.is(await status('/v1.41/containers/json'), 200);
    t.is(await status('/v1.41/containers/any/exec', 'POST'), 403);
    t.is(await status('/v1.41/exec/any/start', 'POST'), 403);
    t.is(await status('/v1.41/build', 'POST'), 403);
    t.is(await status('/v1.41/images/create', 'POST'), 403, 'no pulls');
    t.is(await status('/v1.41/swarm'), 403);
    t.is(await status('/v1.41/secrets'), 403);
  } finally {
    process.off('exit', downOnExit);
    clearInterval(keepAlive);
    await compose([...files, 'down', '-v', '--remove-orphans'], env).catch(() => undefined);
  }
});
