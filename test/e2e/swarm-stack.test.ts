import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import { newToken } from '../../server/auth/tokens.js';
import { CAPSULE_VERSION, DEFAULT_SANDBOX_IMAGE, projectRoot } from '../../server/version.js';
import type { TestPki } from '../helpers/engine-tls.js';
import { type EngineSet, loadImages, startEngines } from '../helpers/engines.js';
import { freePort } from '../helpers/free-port.js';
import { httpClient } from '../helpers/mcp-client.js';
import { docker } from '../helpers/swarm.js';

// deploy/swarm/stack.yaml deployed for real with `docker stack deploy` on a two-node swarm of private
// engines (no registry: images reach both nodes with docker save | docker load). Both nodes share this
// host's network namespace, so each proxy binds its own node's loopback address (a Swarm template made
// from the node list) and mounts its own node's socket; a real cluster keeps the defaults (:2376 and
// /var/run/docker.sock on every machine). The CA is the harness's, deleted with the engines on every
// path. ~35 s warm; the first run loads the images (~40 s more).

const NODES = [
  { name: 'sw-m', address: '127.0.0.12' },
  { name: 'sw-w', address: '127.0.0.13' },
];
const STACK = 'capsule-swt';
const SERVER_IMAGE = `capsule/server:${CAPSULE_VERSION}`;
const PROXY_IMAGE = `capsule/docker-proxy:${CAPSULE_VERSION}`;
// Not 2376: the engines' own TLS listeners (the harness's CA, which the proxies use too) are there.
const PROXY_PORT = 2386;

/** GET `path` from a proxy over TLS with the client certificate (or without one: then null). */
function viaProxy(address: string, path: string, pki: TestPki, withCert: boolean): Promise<{ status: number; body: string } | null> {
  const client = pki.clientCertPath(NODES[0]!.name);
  const tls = withCert ? { cert: readFileSync(join(client, 'cert.pem')), key: readFileSync(join(client, 'key.pem')) } : {};
  return new Promise((resolve) => {
    const req = request(`https://${address}:${PROXY_PORT}${path}`, { ca: pki.caPem, ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', () => resolve(null));
    req.end();
  });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `docker stack deploy` of the shipped file, its variables from `env` (as an operator's shell would give them). */
function stackDeploy(host: string, env: Record<string, string>): Promise<void> {
  const args = ['-H', host, 'stack', 'deploy', '--resolve-image', 'never', '-c', join(projectRoot, 'deploy/swarm/stack.yaml'), STACK];
  return new Promise((resolve, reject) =>
    execFile('docker', args, { env: { ...process.env, ...env } }, (err, _out, stderr) => (err ? reject(new Error(`stack deploy: ${stderr}`)) : resolve())));
}

let set: EngineSet;
let pki: TestPki;

test.before(async () => {
  const proxyCfg = await docker(process.env['DOCKER_HOST'] || 'unix:///var/run/docker.sock', ['run', '--rm', '--network', 'none', PROXY_IMAGE, 'cat', '/etc/haproxy/capsule.cfg']);
  if (proxyCfg !== readFileSync(join(projectRoot, 'images/docker-proxy/haproxy.cfg'), 'utf8')) throw new Error(`${PROXY_IMAGE} is stale: run bash images/build.sh docker-proxy`);
  set = await startEngines(NODES, { tls: true, images: [DEFAULT_SANDBOX_IMAGE, PROXY_IMAGE] });
  pki = set.pki!;
  // Capsule runs on managers only: only the manager needs the server image.
  await loadImages([set.get('sw-m').host], [SERVER_IMAGE]);
});
test.after.always(async () => {
  await set?.stop();
});

/** Run a command with the stack's variables from `env`; its stdout, or its stderr when it fails. */
function run(command: string, args: string[], env: Record<string, string>): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) =>
    execFile(command, args, { env: { ...process.env, ...env } }, (err, out, stderr) => resolve({ ok: !err, out: err ? stderr : out })));
}

/**
 * The shipped file as Swarm reads it, after interpolation: `docker stack config`, or, with a docker CLI
 * that lacks it (Debian's 20.10), `docker-compose config`, which validates the same v3.8 schema.
 */
async function stackConfig(env: Record<string, string>): Promise<{ ok: boolean; out: string }> {
  const file = join(projectRoot, 'deploy/swarm/stack.yaml');
  const hasStackConfig = (await run('docker', ['stack', 'config', '--help'], {})).out.includes('--compose-file');
  return hasStackConfig ? run('docker', ['stack', 'config', '-c', file], env) : run('docker-compose', ['-f', file, 'config'], env);
}

interface StackFile {
  services: Record<string, {
    environment: Record<string, string>;
    deploy: { mode?: string; placement?: { constraints: string[] } };
    networks: Record<string, unknown>;
    secrets: Array<{ source: string; target: string }>;
    configs?: Array<{ source: string; target: string }>;
    volumes: Array<{ type: string; source?: string; target: string; read_only?: boolean }>;
  }>;
  networks: Record<string, { name: string; external: boolean }>;
}

test('the stack file validates, names each required variable that is missing, and keeps the proxy TLS-only on the host network', async (t) => {
  const missing = await stackConfig({ CAPSULE_ALLOWED_HOSTS: 'capsule.test' });
  t.false(missing.ok);
  t.regex(missing.out, /CAPSULE_SWARM_MANAGER/);
  t.regex((await stackConfig({ CAPSULE_SWARM_MANAGER: 'tcp://127.0.0.99:2376' })).out, /CAPSULE_ALLOWED_HOSTS/);
  const { ok, out } = await stackConfig({ CAPSULE_SWARM_MANAGER: 'tcp://127.0.0.99:2376', CAPSULE_ALLOWED_HOSTS: 'capsule.test' });
  t.true(ok, out);
  const stack = parse(out) as StackFile;
  const proxy = stack.services['docker-proxy']!;
  const capsule = stack.services['capsule']!;
  t.is(proxy.deploy.mode, 'global');
  t.is(proxy.environment['CAPSULE_PROXY_TLS_BIND'], ':2376', 'TLS on every node address by default');
  t.deepEqual(proxy.secrets.map((s) => s.target).sort(), ['proxy-tls/ca.pem', 'proxy-tls/server.pem']);
  t.like(proxy.volumes[0], { type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock', read_only: true });
  t.like(stack.networks['host'], { name: 'host', external: true });
  for (const service of [proxy, capsule]) t.deepEqual(Object.keys(service.networks), ['host']);
  t.like(capsule.environment, {
    CAPSULE_SWARM_MANAGER: 'tcp://127.0.0.99:2376', DOCKER_HOST: 'tcp://127.0.0.99:2376', DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: '/run/secrets/engine-tls', CAPSULE_TOKENS_FILE: '/run/secrets/capsule_tokens', CAPSULE_PROFILES_DIR: '/etc/capsule/profiles',
  });
  t.deepEqual(capsule.deploy.placement?.constraints, ['node.role == manager']);
  t.deepEqual(capsule.configs?.map((c) => c.target).sort(), ['build', 'default', 'strict'].map((p) => `/etc/capsule/profiles/${p}.yaml`));
});

test('docker stack deploy of deploy/swarm/stack.yaml converges: a TLS proxy per node reaching its own engine, Capsule ready and running through it', async (t) => {
  const manager = set.get('sw-m');
  const swarm = await set.startSwarm('sw-m', ['sw-w']);
  await swarm.labelEngines((m) => `tcp://${m.address}:${PROXY_PORT}`);
  const { token, line } = newToken('swarm-test');
  const secrets: Record<string, string> = {
    capsule_tokens: `${line}\n`,
    capsule_tls_ca: pki.caPem,
    capsule_proxy_cert: readFileSync(join(pki.proxyDir, 'server.pem'), 'utf8'),
    capsule_client_cert: readFileSync(join(pki.clientCertPath('sw-m'), 'cert.pem'), 'utf8'),
    capsule_client_key: readFileSync(join(pki.clientCertPath('sw-m'), 'key.pem'), 'utf8'),
  };
  for (const [name, value] of Object.entries(secrets)) await manager.docker(['secret', 'create', name, '-'], value);
  const port = await freePort();
  const instance = `capsule-swt-${randomBytes(3).toString('hex')}`;
  const byHostname = NODES.map((n, i) => `${i ? '{{else if' : '{{if'} eq .Node.Hostname "${n.name}"}}${n.address}`).join('');
  const env = {
    CAPSULE_SWARM_MANAGER: `tcp://${manager.address}:${PROXY_PORT}`,
    CAPSULE_PROXY_BIND: `${byHostname}{{end}}:${PROXY_PORT}`,
    CAPSULE_ENGINE_SOCKET: '/var/run/docker-{{.Node.Hostname}}.sock',
    CAPSULE_BIND_HOST: manager.address,
    CAPSULE_PORT: String(port),
    CAPSULE_ALLOWED_HOSTS: manager.address,
    CAPSULE_INSTANCE: instance,
  };
  await stackDeploy(manager.host, env);
  try {
    const replicas = () => manager.docker(['service', 'ls', '--format', '{{.Name}} {{.Replicas}}']).then((o) => o.trim().split('\n').sort());
    const converged = await until('services converged', 60_000, async () => {
      const r = await replicas();
      return r.join() === [`${STACK}_capsule 1/1`, `${STACK}_docker-proxy 2/2`].join() ? r : undefined;
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${(await replicas()).join(', ')}\n${await manager.docker(['service', 'ps', '--no-trunc', `${STACK}_capsule`, `${STACK}_docker-proxy`])}`);
    });
    t.is(converged.length, 2);

    // Each node's proxy reaches that node's engine, only over mutual TLS, and only the allowed calls.
    for (const node of NODES) {
      const info = await viaProxy(node.address, '/v1.41/info', pki, true);
      t.is(info?.status, 200, node.name);
      t.is((JSON.parse(info!.body) as { Name: string }).Name, node.name, `the proxy on ${node.address} serves ${node.name}'s engine`);
      t.is(await viaProxy(node.address, '/_ping', pki, false), null, 'no client certificate, no TLS session');
      t.is((await viaProxy(node.address, '/v1.41/swarm', pki, true))?.status, 403);
      t.is((await viaProxy(node.address, '/v1.41/secrets', pki, true))?.status, 403);
    }
    const nodes = await viaProxy(manager.address, '/v1.41/nodes', pki, true);
    const listed = (JSON.parse(nodes!.body) as Array<{ Spec: { Labels: Record<string, string> } }>).map((n) => n.Spec.Labels['capsule.engine']).sort();
    t.deepEqual(listed, NODES.map((n) => `tcp://${n.address}:${PROXY_PORT}`), 'the manager lists the engines for Capsule (GET /nodes is allowed)');

    // Capsule: ready, tokens from the secret, profiles from the configs, its engine reached through the proxy.
    const base = `http://${manager.address}:${port}`;
    t.is((await fetch(`${base}/readyz`)).status, 200);
    t.is((await fetch(`${base}/v1/runs/run_x`)).status, 401, 'a token is required');
    const { call, client } = await httpClient(new URL(`${base}/mcp`), { authorization: `Bearer ${token}` });
    try {
      const r = await call<{ stdout: string }>('run_command', { command: 'echo through the swarm' });
      t.is(r.s.stdout, 'through the swarm\n', r.text);
      const info = await call<{ engine: { endpoint: string } }>('system_info', {});
      t.is(info.s.engine.endpoint, `tcp://${manager.address}:${PROXY_PORT}`);
      const profiles = await call<{ profiles: Array<{ name: string }> }>('list_profiles', {});
      t.deepEqual(profiles.s.profiles.map((p) => p.name).sort(), ['build', 'default', 'strict'], 'the profiles are the Swarm configs');
    } finally {
      await client.close();
    }
    const pool = await manager.docker(['ps', '-q', '--filter', `label=capsule.instance=${instance}`]);
    t.true(pool.trim().length > 0, 'its warm pool lives on the manager engine');
  } finally {
    // Capsule first, as README.md says: on its SIGTERM it removes its pool through the proxy, which a
    // plain `stack rm` would stop at the same time.
    await manager.docker(['service', 'rm', `${STACK}_capsule`]);
    await until('Capsule stopped', 60_000, async () => ((await manager.docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${STACK}_capsule`])).trim() ? undefined : true));
    await manager.docker(['stack', 'rm', STACK]);
  }
  // stack rm returns at once; the tasks stop afterwards.
  for (const e of set.engines) {
    await until(`${e.name} empty after stack rm`, 60_000, async () => ((await e.docker(['ps', '-aq'])).trim() === '' ? true : undefined));
  }
  for (const e of set.engines) t.is((await e.docker(['ps', '-aq', '--filter', `label=capsule.instance=${instance}`])).trim(), '', `no sandbox left on ${e.name}`);
  t.is((await manager.docker(['service', 'ls', '-q'])).trim(), '');
});
