import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../server/config.js';
import { parseEgress } from '../../server/egress/egress-schema.js';
import { STATE_DIR } from '../../server/egress/proxy-config.js';
import { ConfigurationError, InvalidInputError } from '../../server/errors.js';
import { egressLabels } from '../../server/sandbox/container/labels.js';
import { ProfileRegistry, type Profile } from '../../server/sandbox/profiles/profiles.js';
import { buildServices } from '../../server/services.js';
import { DEFAULT_EGRESS_IMAGE } from '../../server/version.js';
import { entriesOf } from '../contract/contract-case.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { testProfile } from '../helpers/fixtures.js';

// The egress service on the fake engine: the proxy's world (networks, volumes, the proxy container),
// per-run registration before the sandbox exists, the access log into results, re-creation, cleanup.

const SECRET = 'real-secret-value-5f0c2a';
const pkgs = testProfile({
  name: 'pkgs',
  egress: parseEgress({ allow: ['pkg.example:443', 'up-http:8000'], secrets: [{ name: 'API_TOKEN', from_env: 'CAPSULE_SECRET_T', hosts: ['pkg.example'] }] }),
});

/** Services with a capturing log and a fake proxy whose access log the test writes. */
function world(options: { profiles?: Profile[]; env?: Record<string, string> } = {}) {
  const runtime = new FakeRuntime();
  const proxies: Array<(line: string) => void> = [];
  runtime.imagePrograms.set(DEFAULT_EGRESS_IMAGE, (p) => {
    proxies.push((line) => p.write('stdout', `${line}\n`));
    return new Promise<number>(() => undefined);
  });
  const logs: string[] = [];
  const log = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  const config = loadConfig({ CAPSULE_DATA_DIR: mkdtempSync(join(tmpdir(), 'capsule-egress-unit-')), CAPSULE_KILL_GRACE_MS: '50', CAPSULE_POOL: '0', ...options.env });
  const services = buildServices(config, runtime, log, {
    profiles: ProfileRegistry.fromProfiles(options.profiles ?? [testProfile(), pkgs]),
    instance: { name: 'unit', bootId: 'b1' },
    storeDir: ':memory:',
    env: { CAPSULE_SECRET_T: SECRET },
  });
  const proxySpecs = () => runtime.specs.filter((s) => s.labels['capsule.kind'] === 'egress-proxy');
  const proxyId = () => [...runtime.containers.values()].find((c) => c.spec.labels['capsule.kind'] === 'egress-proxy' && c.running)?.id;
  const emit = (line: object) => proxies.at(-1)!(JSON.stringify(line));
  const stateFile = async (path: string) => (await entriesOf(await runtime.getArchive(proxyId()!, `${STATE_DIR}/${path}`))).get(path.split('/').at(-1)!);
  return { runtime, services, logs, proxySpecs, proxyId, emit, stateFile };
}

const squid = (runId: string, profile: string, method: string, host: string, port: number, decision: 'allowed' | 'denied', status: number, reason = '-') => ({
  source: 'squid', ts: '1.000', user: `${runId}.${profile}`, client: '10.213.0.130', method, host, port: String(port), status: String(status),
  bytes_out: '10', bytes_in: '5', duration_ms: '3', squid: decision === 'allowed' ? 'TCP_TUNNEL' : 'TCP_DENIED', hier: '-', decision, reason, route: 'direct',
});

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('start-up builds the world: an outside network, an internal one with a pinned proxy address, two volumes, a locked-down proxy with its config', async (t) => {
  const { runtime, services, proxySpecs, proxyId, stateFile } = world();
  t.teardown(() => services[Symbol.asyncDispose]());
  await services.start();
  const [spec, ...more] = proxySpecs();
  t.deepEqual(more, []);
  t.like(spec, { image: DEFAULT_EGRESS_IMAGE, user: '10003:10003', readOnlyRootfs: true, noNewPrivileges: true, capDrop: ['ALL'], network: 'unit-outside', init: false });
  t.deepEqual(Object.keys(spec!.tmpfs), ['/tmp']);
  t.deepEqual(spec!.healthcheck?.argv, ['/opt/capsule-egress/healthcheck.sh']);
  const outside = runtime.createdNetworks.byName.get('unit-outside')!.spec;
  const internal = runtime.createdNetworks.byName.get('unit-egress-in')!.spec;
  t.like(outside, { internal: false, labels: egressLabels('outside', { name: 'unit', bootId: 'b1' }) });
  t.like(internal, { internal: true });
  t.regex(internal.subnet!, /^10\.213\.\d+\.0\/22$/);
  t.regex(internal.bridgeName!, /^capsule-egr\d{1,4}$/);
  const proxyIp = internal.subnet!.replace(/0\/22$/, '2');
  t.is((await runtime.inspect(proxyId()!)).addresses['unit-egress-in'], proxyIp);
  t.true(runtime.volumes.has('unit-egress-state') && runtime.volumes.has('unit-egress-public'));
  const secrets = await stateFile('config/secrets.json');
  t.is(secrets?.header.mode, 0o600);
  t.is(secrets?.header.uid, 10003);
  t.true(secrets?.content.includes(SECRET), 'the value is in the proxy state volume (its only home)');
  t.regex((await stateFile('config/squid.conf'))!.content, new RegExp(`acl blocked_dst dst .*${internal.subnet!.replace(/\./g, '\\.')}`), 'the internal subnet is never a destination');
  t.deepEqual(JSON.parse((await stateFile('registry/runs.json'))!.content), { version: 1, runs: {} });
  const calls = runtime.calls.slice(runtime.calls.lastIndexOf('createVolume') + 1).filter((c) => ['create', 'putArchive', 'connectNetwork', 'attach', 'start'].includes(c));
  t.deepEqual(calls.slice(0, 5), ['create', 'putArchive', 'connectNetwork', 'attach', 'start'], 'config in, internal leg joined and output attached before the start');
});

test('a run registers before its sandbox is created, gets the proxy env and CA, and its result carries what the proxy logged for it', async (t) => {
  const { runtime, services, emit, stateFile, logs } = world();
  t.teardown(() => services[Symbol.asyncDispose]());
  await services.start();
  const registryAtCreate: string[] = [];
  const create = runtime.create.bind(runtime);
  runtime.create = async (spec, options) => {
    if (spec.labels['capsule.kind'] === 'run') registryAtCreate.push((await stateFile('registry/runs.json'))!.content);
    return create(spec, options);
  };
  runtime.next = { runMs: 300 };
  const handle = await services.sandbox.startCommand({ profile: 'pkgs', command: 'pip download thing' });
  const { runId } = handle;
  t.true(registryAtCreate[0]?.includes(`"${runId}"`), 'the proxy knew the run before its container existed');
  emit(squid(runId, 'pkgs', 'CONNECT', 'pkg.example', 443, 'allowed', 200));
  emit(squid(runId, 'pkgs', 'CONNECT', 'pkg.example', 443, 'allowed', 200));
  emit(squid(runId, 'pkgs', 'GET', 'evil.example', 80, 'denied', 403, 'not_allowed'));
  emit(squid(runId, 'other', 'GET', 'claimed.example', 80, 'denied', 403, 'not_allowed'));
  emit(squid('run_0000000000000000', 'pkgs', 'GET', 'stranger.example', 80, 'denied', 403, 'not_allowed'));
  const result = await handle.wait();
  const network = { allowed: [{ host: 'pkg.example', port: 443, requests: 2 }], denied: [{ host: 'evil.example', port: 80, attempts: 1 }] };
  t.deepEqual(result.network, network, 'lines of other runs or another profile are not this run\'s');
  t.deepEqual(services.store.get(runId, 'local')?.result?.network, network, 'the stored result has it too');

  const spec = runtime.specs.find((s) => s.labels['capsule.run_id'] === runId)!;
  const proxyIp = runtime.createdNetworks.byName.get('unit-egress-in')!.spec.subnet!.replace(/0\/22$/, '2');
  t.like(spec, { network: 'unit-egress-in', readOnlyRootfs: true, noNewPrivileges: true, capDrop: ['ALL'], user: '10001:10001', dns: ['127.0.0.1'], dnsOptions: ['timeout:1', 'attempts:1'] });
  t.regex(spec.env.HTTP_PROXY!, new RegExp(`^http://${runId}\\.pkgs:[A-Za-z0-9_-]+@${proxyIp.replace(/\./g, '\\.')}:3128$`));
  t.is(spec.env.https_proxy, spec.env.HTTP_PROXY);
  t.is(spec.env.NODE_EXTRA_CA_CERTS, '/etc/capsule/egress/ca.crt');
  t.like(spec.volumes.find((v) => v.target === '/etc/capsule/egress'), { source: 'unit-egress-public', readOnly: true });
  t.regex(spec.env.API_TOKEN!, /^capsule_ph_[0-9a-f]{32}$/, 'the sandbox holds a placeholder');
  for (const [what, text] of [['env', JSON.stringify(spec.env)], ['result', JSON.stringify(result)], ['store', JSON.stringify(services.store.get(runId, 'local'))], ['logs', logs.join('')]] as const) {
    t.false(text.includes(SECRET), `the secret value is not in the ${what}`);
  }
  t.true(logs.some((l) => l.includes('egress requests denied') && l.includes('evil.example')), 'denials are logged with the run id');
  await until(async () => !(await stateFile('registry/runs.json'))!.content.includes(runId));
});

test('a run of a default profile is untouched: no network, no proxy env', async (t) => {
  const { runtime, services } = world();
  t.teardown(() => services[Symbol.asyncDispose]());
  await services.start();
  const result = await services.sandbox.runCommand({ command: 'true' });
  const spec = runtime.specs.find((s) => s.labels['capsule.run_id'] === result.run_id)!;
  t.is(spec.network, 'none');
  t.is(spec.env.HTTP_PROXY, undefined);
  t.is(result.network, undefined);
});

test('a killed proxy is re-created at the same address with a new generation; runs work again', async (t) => {
  const { runtime, services, proxyId, proxySpecs } = world();
  t.teardown(() => services[Symbol.asyncDispose]());
  await services.start();
  const first = proxyId()!;
  const firstLabels = runtime.containers.get(first)!.spec.labels;
  await runtime.kill(first, 'SIGKILL');
  await until(() => proxySpecs().length === 2 && proxyId() !== undefined && proxyId() !== first && runtime.containers.get(proxyId()!)!.health === 'healthy');
  const second = proxyId()!;
  t.false(runtime.containers.has(first), 'the dead proxy is removed');
  const ip = runtime.createdNetworks.byName.get('unit-egress-in')!.spec.subnet!.replace(/0\/22$/, '2');
  t.is((await runtime.inspect(second)).addresses['unit-egress-in'], ip);
  t.false(services.egress!.ownsContainer(firstLabels), 'the reaper may take a replaced proxy');
  t.true(services.egress!.ownsContainer(runtime.containers.get(second)!.spec.labels));
  runtime.next = { runMs: 10 };
  t.is((await services.sandbox.runCommand({ profile: 'pkgs', command: 'true' })).status, 'exited');
});

test('shutdown leaves nothing: no container, network or volume', async (t) => {
  const { runtime, services } = world();
  await services.start();
  runtime.next = { runMs: 10 };
  await services.sandbox.runCommand({ profile: 'pkgs', command: 'true' });
  await services[Symbol.asyncDispose]();
  t.deepEqual([...runtime.containers.keys()], []);
  t.deepEqual([...runtime.createdNetworks.byName.keys()], []);
  t.deepEqual([...runtime.volumes.keys()], []);
});

test('the reaper removes egress networks and volumes an earlier start left, and keeps the current ones', async (t) => {
  const { runtime, services } = world();
  t.teardown(() => services[Symbol.asyncDispose]());
  const old = { name: 'unit', bootId: 'b0' };
  await runtime.createNetwork({ name: 'unit-egress-in', labels: egressLabels('internal', old), internal: true, subnet: '10.213.0.0/22', bridgeName: 'capsule-egr0' });
  await runtime.createVolume('unit-egress-state', egressLabels('state', old));
  await services.start();
  t.is(runtime.createdNetworks.byName.get('unit-egress-in')?.spec.labels['capsule.boot'], 'b1', 'the stale network was swept before the new one was made');
  t.is(runtime.volumes.get('unit-egress-state')?.['capsule.boot'], 'b1');
  await runtime.createVolume('leftover-public', egressLabels('public', old));
  t.true((await services.reaper.sweep()) >= 1);
  t.false(runtime.volumes.has('leftover-public'));
  t.true(runtime.volumes.has('unit-egress-state') && runtime.createdNetworks.byName.has('unit-egress-in'));
});

test('a missing secret stops start-up naming the profile file and key; a disabled egress profile starts no proxy', (t) => {
  const runtime = new FakeRuntime();
  const config = loadConfig({ CAPSULE_DATA_DIR: mkdtempSync(join(tmpdir(), 'capsule-egress-unit-')) });
  const build = (profile: Profile) =>
    buildServices(config, runtime, pino({ level: 'silent' }), { profiles: ProfileRegistry.fromProfiles([testProfile(), profile]), instance: { name: 'unit', bootId: 'b1' }, storeDir: ':memory:', env: {} });
  const err = t.throws(() => build({ ...pkgs, source: 'profiles/pkgs.yaml' }), { instanceOf: ConfigurationError });
  t.regex(err!.message, /^profiles\/pkgs\.yaml: profile pkgs: egress\.secrets\.0\.from_env: CAPSULE_SECRET_T is not set \(secret API_TOKEN\)$/);
  t.is(build({ ...pkgs, enabled: false }).egress, undefined);
});

test('cache is refused for an egress profile: its results depend on the network', async (t) => {
  const { services } = world();
  t.teardown(() => services[Symbol.asyncDispose]());
  await services.start();
  await t.throwsAsync(services.sandbox.runCommand({ profile: 'pkgs', command: 'true', cache: true }), { instanceOf: InvalidInputError, message: /networked profile "pkgs"/ });
});

test('the engine down at start-up only warns; the proxy comes up once it is back', async (t) => {
  const { runtime, services, proxyId, logs } = world();
  t.teardown(() => services[Symbol.asyncDispose]());
  runtime.engineDown = true;
  await services.start();
  t.true(logs.some((l) => l.includes('egress proxy not started yet')));
  runtime.engineDown = false;
  runtime.next = { runMs: 10 };
  t.is((await services.sandbox.runCommand({ profile: 'pkgs', command: 'true' })).status, 'exited', 'the first egress run brings it up');
  t.truthy(proxyId());
});
