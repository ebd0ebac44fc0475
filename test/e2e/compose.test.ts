import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAPSULE_VERSION, DEFAULT_EGRESS_IMAGE, DEFAULT_SANDBOX_IMAGE, projectRoot } from '../../server/version.js';
import { profileYaml } from '../helpers/egress-upstreams.js';
import { requireEngine, runtime } from '../helpers/engine.js';
import { freePort } from '../helpers/free-port.js';
import { httpClient } from '../helpers/mcp-client.js';

const run = promisify(execFile);
const compose = (args: string[], env: Record<string, string> = {}) =>
  run('docker-compose', args, { cwd: projectRoot, env: { ...process.env, ...env }, maxBuffer: 16 << 20 });

test.before(requireEngine);

test('docker-compose -f compose.yaml config passes; Jaeger is optional (profile "tracing") and nothing depends on it', async (t) => {
  const { stdout } = await compose(['-f', 'compose.yaml', 'config']);
  for (const service of ['capsule', 'docker-proxy', 'jaeger', 'sandbox-image']) t.regex(stdout, new RegExp(`\\n  ${service}:`));
  t.regex(stdout, /DOCKER_HOST: tcp:\/\/docker-proxy:2375/);
  t.regex(stdout, /image: capsule\/docker-proxy:/, 'the proxy is built locally (no registry needed)');
  const capsule = stdout.slice(stdout.indexOf('\n  capsule:'), stdout.indexOf('\n  docker-proxy:'));
  t.notRegex(capsule, /jaeger:\s*\n\s*condition/, 'capsule does not depend on jaeger');
  const jaeger = stdout.slice(stdout.indexOf('\n  jaeger:'));
  t.regex(jaeger, /profiles:\s*\n\s*- tracing/);
});

/** What the docker-proxy answers, asked from a throwaway container on the project's network. */
async function proxyStatuses(network: string, paths: Array<[string, string]>): Promise<number[]> {
  const script = [
    'import json, sys, urllib.request, urllib.error',
    'out = []',
    'for method, path in json.loads(sys.argv[1]):',
    '    try: out.append(urllib.request.urlopen(urllib.request.Request("http://docker-proxy:2375" + path, method=method), timeout=10).status)',
    '    except urllib.error.HTTPError as e: out.append(e.code)',
    'print(json.dumps(out))',
  ].join('\n');
  const { stdout } = await run('docker', ['run', '--rm', '--network', network, '--label', 'capsule.test=compose', DEFAULT_SANDBOX_IMAGE, 'python3', '-c', script, JSON.stringify(paths)]);
  return JSON.parse(stdout) as number[];
}

test('make compose-up (shipped compose.yaml, no Jaeger image): ready, runs through the proxy (warm, cold, stdin, egress), the proxy refuses exec and build, and down -v leaves nothing', async (t) => {
  for (const [image, target] of [[`capsule/server:${CAPSULE_VERSION}`, 'server'], [`capsule/docker-proxy:${CAPSULE_VERSION}`, 'docker-proxy'], [DEFAULT_SANDBOX_IMAGE, 'sandbox'], [DEFAULT_EGRESS_IMAGE, 'egress-proxy']]) {
    if (!(await runtime.inspectImage(image!))) throw new Error(`${image} is missing: run bash images/build.sh ${target} (make test does)`);
  }
  t.is(await runtime.inspectImage('jaegertracing/all-in-one:1.62.0'), null, 'this machine has no Jaeger image: compose must start without it');
  const port = await freePort();
  const project = `capsuletest${randomBytes(3).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  // CAPSULE_REQUIRE_DISK_QUOTA=1: the server only starts when its volume helpers work through the proxy.
  // The shipped profiles plus an egress one: the server creates its proxy through the docker-proxy.
  const profiles = mkdtempSync(join(tmpdir(), 'capsule-compose-profiles-'));
  chmodSync(profiles, 0o755); // the server in its container is not root: mkdtemp's 0700 would hide it
  writeFileSync(join(profiles, 'default.yaml'), profileYaml('default', 'pool:\n  size: 2\n  max_idle_s: 300'));
  writeFileSync(join(profiles, 'pkgs.yaml'), profileYaml('pkgs', 'egress:\n  allow: ["pkg.example:443"]'));
  const env = {
    CAPSULE_PUBLISH_PORT: String(port), CAPSULE_ALLOWED_HOSTS: '127.0.0.1', CAPSULE_TOKENS: `compose:${token}`, CAPSULE_INSTANCE: project, CAPSULE_REQUIRE_DISK_QUOTA: '1',
    CAPSULE_PROFILES_HOST_DIR: profiles, CAPSULE_ALLOW_NETWORK_PROFILES: '1',
  };
  const files = ['-p', project, '-f', 'compose.yaml'];
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
    // The README's command for machines without a registry: images/build.sh (up to date here), then compose up.
    await run('bash', ['scripts/compose-up.sh', '-d'], { cwd: projectRoot, env: { ...process.env, ...env, COMPOSE_PROJECT_NAME: project }, maxBuffer: 16 << 20 });
    const jaeger = await runtime.list({ 'com.docker.compose.project': project, 'com.docker.compose.service': 'jaeger' });
    t.is(jaeger.length, 0, 'jaeger is not started without the tracing profile');
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
    // An egress run: the proxy the server made through the docker-proxy refuses a name off the list.
    const egress = await call<{ stdout: string; network: { denied: Array<{ host: string; port: number }> } }>('run_command', { profile: 'pkgs', command: 'curl -s -o /dev/null -w "%{http_code}" http://off-the-list.test/' });
    t.is(egress.s.stdout, '403', egress.text);
    t.like(egress.s.network.denied[0], { host: 'off-the-list.test', port: 80 });
    await client.close();
    const statuses = await proxyStatuses(`${project}_default`, [
      ['GET', '/_ping'],
      ['GET', '/v1.41/containers/json'],
      ['POST', '/v1.41/containers/any/exec'],
      ['POST', '/v1.41/exec/any/start'],
      ['POST', '/v1.41/build'],
      ['POST', '/v1.41/images/create'],
      ['GET', '/v1.41/swarm'],
      ['GET', '/v1.41/secrets'],
    ]);
    t.deepEqual(statuses, [200, 200, 403, 403, 403, 403, 403, 403], 'ping and container reads pass; exec, build, pulls, swarm and secrets are refused');
  } finally {
    process.off('exit', downOnExit);
    clearInterval(keepAlive);
    await compose([...files, 'down', '-v', '--remove-orphans'], env).catch(() => undefined);
    rmSync(profiles, { recursive: true, force: true });
  }
  const byProject = { 'com.docker.compose.project': project };
  t.deepEqual((await runtime.list(byProject)).map((c) => c.id), [], 'no compose containers left');
  t.deepEqual((await runtime.list({ 'capsule.managed': 'true', 'capsule.instance': project })).map((c) => c.id), [], 'no sandbox containers left');
  t.deepEqual((await runtime.listVolumes({ 'capsule.instance': project })).map((v) => v.name), [], 'no capsule volumes left');
  t.deepEqual((await runtime.listVolumes(byProject)).map((v) => v.name), [], 'no compose volumes left');
  for (const label of [`com.docker.compose.project=${project}`, `capsule.instance=${project}`]) {
    const { stdout: networks } = await run('docker', ['network', 'ls', '-q', '--filter', `label=${label}`]);
    t.is(networks.trim(), '', `no networks labelled ${label} left`);
  }
});
