/**
 * What the egress proxy costs, on the engine directly (no Capsule server), with local upstreams only:
 *   per-run cost   create + start of a locked-down sandbox: NetworkMode none, joining the shared
 *                  internal network, and a network of its own per run (create network, connect the
 *                  proxy, create + start; then disconnect and remove, timed apart)
 *   throughput     a 100 MB download: plain bridge (no proxy), squid (HTTP, spliced HTTPS), the
 *                  intercepting leg (HTTP and HTTPS to a secret host), and mitmproxy alone (HTTP,
 *                  passthrough HTTPS) for the design comparison; rounds interleave the paths
 *   latency        one small request per new connection (urllib in the sandbox image), same paths
 * Then the same through Capsule itself (bench/egress-capsule.ts): the per-run cost of an egress
 * profile against the default, and a 100 MB download through Capsule's proxy against a plain bridge.
 * Run: npx tsx bench/egress.ts [--rounds N] [--only engine|capsule]   (the egress-proxy image must be built)
 */
import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { parseEgress } from '../server/egress/egress-schema.js';
import { buildProxyConfig } from '../server/egress/proxy-config.js';
import { registerRun, registryFile, sandboxEgressEnv } from '../server/egress/run-registration.js';
import { DEFAULT_SANDBOX_IMAGE } from '../server/version.js';
import { docker as cli, EGRESS_IMAGE, EgressLab } from '../test/helpers/egress-lab.js';
import { measureThroughCapsule } from './egress-capsule.js';
import { summarize, table } from './stats.js';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rounds = Number(arg('--rounds') || 5);
const only = arg('--only');
const engine = new Docker();
const lab = new EgressLab();
const spec = parseEgress({
  allow: ['up-http:8000', 'up-https:8443', 'sec-http:8000', 'sec-https:8443'],
  secrets: [{ name: 'T', from_env: 'T', hosts: ['sec-http', 'sec-https'] }],
});
const median = (xs: number[]) => summarize(xs).p50;

async function createStart(networkMode: string): Promise<{ ms: number; container: Docker.Container }> {
  const t = performance.now();
  const container = await engine.createContainer({
    Image: DEFAULT_SANDBOX_IMAGE, User: '10001:10001', Cmd: ['sleep', '30'], Labels: { 'capsule.test': lab.label.split('=')[1] as string },
    HostConfig: { NetworkMode: networkMode, ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], Init: true, LogConfig: { Type: 'none', Config: {} } },
  });
  await container.start();
  return { ms: performance.now() - t, container };
}

async function perRunCost() {
  const none: number[] = [], shared: number[] = [], own: number[] = [], ownTeardown: number[] = [];
  const proxy = engine.getContainer(lab.proxy);
  for (let i = 0; i < rounds * 3; i++) {
    for (const [mode, out] of [['none', none], [lab.internal, shared]] as const) {
      const r = await createStart(mode);
      out.push(r.ms);
      await r.container.remove({ force: true });
    }
    const t = performance.now();
    const net = await engine.createNetwork({ Name: `${lab.internal}-run${i}`, Internal: true, Labels: { 'capsule.test': lab.label.split('=')[1] as string } });
    await net.connect({ Container: proxy.id });
    const r = await createStart(net.id);
    own.push(performance.now() - t);
    const t2 = performance.now();
    await r.container.remove({ force: true });
    await net.disconnect({ Container: proxy.id, Force: true });
    await net.remove();
    ownTeardown.push(performance.now() - t2);
  }
  return [
    { path: 'NetworkMode none', ...summarize(none) },
    { path: 'join the shared internal network', ...summarize(shared) },
    { path: 'own internal network (create net + connect proxy + create/start)', ...summarize(own) },
    { path: '  its teardown (remove + disconnect proxy + remove net)', ...summarize(ownTeardown) },
  ];
}

interface Path { name: string; network: string; env: Record<string, string>; url: string; proxy?: string }

/** CPU time the proxy container has used (cgroup v1 cpuacct, ns): on a shared 2-core host, CPU per byte is steadier than MB/s. */
async function cpuNs(container: string): Promise<number> {
  return Number((await cli(['exec', container, 'cat', '/sys/fs/cgroup/cpuacct/cpuacct.usage'])).stdout.trim());
}

/** One client container per path; every round downloads once per path, so load spikes hit all paths alike. */
async function throughput(paths: Path[]) {
  const speeds = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  const cpu = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const p of paths) {
      const before = p.proxy ? await cpuNs(p.proxy) : 0;
      const res = await lab.sandbox(['-c', `${trustScript()} && curl -sS -o /dev/null -w '%{speed_download} %{size_download}' ${p.url}`],
        { env: p.env, entrypoint: 'sh', image: EGRESS_IMAGE, network: p.network });
      const [speed, size] = res.stdout.trim().split(' ').map(Number);
      if (size !== 100_000_000) throw new Error(`${p.name}: ${res.stdout} ${res.stderr}`);
      speeds.get(p.name)!.push((speed as number) / 1e6);
      if (p.proxy) cpu.get(p.name)!.push(((await cpuNs(p.proxy)) - before) / 1e6);
    }
  }
  return paths.map((p) => {
    const s = speeds.get(p.name)!;
    return { path: p.name, 'MB/s p50': Math.round(median(s)), min: Math.round(Math.min(...s)), max: Math.round(Math.max(...s)), 'proxy CPU ms p50': p.proxy ? Math.round(median(cpu.get(p.name)!)) : '-' };
  });
}

/** 40 requests, each on a new connection (urllib opens one per request), timed inside the sandbox. */
async function latency(paths: Path[]) {
  const rows = [];
  for (const p of paths) {
    const py = `import time,urllib.request,json\nts=[]\nfor i in range(40):\n t=time.perf_counter(); urllib.request.urlopen('${p.url.replace('100m', 'hello.txt')}', timeout=10).read(); ts.append((time.perf_counter()-t)*1000)\nprint(json.dumps(ts))`;
    const res = await lab.sandbox(['-c', `${trustScript()} && python3 -c "${py}"`], { env: p.env, entrypoint: 'sh', network: p.network });
    const ts = JSON.parse(res.stdout.trim().split('\n').at(-1) || 'null') as number[] | null;
    if (!ts) throw new Error(`${p.name}: ${res.stderr}`);
    rows.push({ path: p.name, ...summarize(ts.slice(5)) });
  }
  return rows;
}

function trustScript() {
  return [
    'cat /etc/capsule/egress/ca-bundle.crt > /tmp/b.pem 2>/dev/null; printf "%s\\n" "$TEST_CA" >> /tmp/b.pem',
    'export SSL_CERT_FILE=/tmp/b.pem CURL_CA_BUNDLE=/tmp/b.pem',
  ].join(' && ');
}

async function startMitmAlone(): Promise<string> {
  // mitmproxy as the whole proxy, for the comparison only: HTTP streamed, every TLS host passed through.
  const name = `egt-${lab.id}-mitm-alone`;
  await cli(['create', '--label', lab.label, '--name', name, '--network', lab.outside, '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL',
    '--entrypoint', 'mitmdump', EGRESS_IMAGE, '-q', '--listen-port', '3128', '--set', 'confdir=/tmp/m', '--set', 'stream_large_bodies=64k', '--ignore-hosts', '.*']);
  await cli(['network', 'connect', lab.internal, name]);
  await cli(['start', name]);
  const ip = await lab.ipOf(name, lab.internal);
  for (let i = 0; i < 100; i++) {
    const r = await lab.sandbox(['-c', `python3 -c "import socket; socket.create_connection(('${ip}', 3128), 1)"`], { entrypoint: 'sh' });
    if (r.code === 0) break;
  }
  return ip;
}

async function main() {
  await lab.create(['up-https', 'sec-https']);
  const big = 'head -c 100000000 /dev/urandom > 100m';
  await lab.startUpstream('up', ['up-http', 'up-https', 'sec-http', 'sec-https'], big);
  const config = buildProxyConfig({ profiles: [{ name: 'bench', egress: spec }], secretValues: { bench: { T: randomBytes(8).toString('hex') } }, upstreamCaPem: lab.pki.caPem });
  const run = registerRun(`run_${randomBytes(8).toString('hex')}`, 'bench', spec);
  await lab.startProxy(config, registryFile([run.registration]));
  const env = { ...sandboxEgressEnv({ proxyIp: await lab.proxyIp(), run }), TEST_CA: lab.pki.caPem };
  console.log(`egress bench: ${rounds} rounds, 2 cores shared with whatever else runs here\n`);
  if (only !== 'capsule') await engineLevel(env);
  if (only !== 'engine') await measureThroughCapsule({ outside: lab.outside, caPem: lab.pki.caPem, instance: `bench-egress-${lab.id}` }, rounds);
}

/** The design comparison on the engine directly: per-run network setups, and every proxy path. */
async function engineLevel(env: Record<string, string>) {
  const mitmIp = await startMitmAlone();
  const mitmUrl = `http://${mitmIp}:3128`;
  const mitmEnv = { HTTP_PROXY: mitmUrl, HTTPS_PROXY: mitmUrl, http_proxy: mitmUrl, https_proxy: mitmUrl, TEST_CA: lab.pki.caPem };
  const direct = { TEST_CA: lab.pki.caPem };
  const [px, mx] = [lab.proxy, `egt-${lab.id}-mitm-alone`];
  const paths: Path[] = [
    { name: 'HTTP, plain bridge (no proxy)', network: lab.outside, env: direct, url: 'http://up-http:8000/100m' },
    { name: 'HTTP, squid', network: lab.internal, env, url: 'http://up-http:8000/100m', proxy: px },
    { name: 'HTTP, squid -> intercepting leg (secret host)', network: lab.internal, env, url: 'http://sec-http:8000/100m', proxy: px },
    { name: 'HTTP, mitmproxy alone', network: lab.internal, env: mitmEnv, url: 'http://up-http:8000/100m', proxy: mx },
    { name: 'HTTPS, plain bridge (no proxy)', network: lab.outside, env: direct, url: 'https://up-https:8443/100m' },
    { name: 'HTTPS, squid splice', network: lab.internal, env, url: 'https://up-https:8443/100m', proxy: px },
    { name: 'HTTPS, squid -> intercepted (secret host)', network: lab.internal, env, url: 'https://sec-https:8443/100m', proxy: px },
    { name: 'HTTPS, mitmproxy alone, passthrough', network: lab.internal, env: mitmEnv, url: 'https://up-https:8443/100m', proxy: mx },
  ];
  console.log('per-run cost, create + start (ms):');
  console.log(table(await perRunCost()));
  console.log('\n100 MB download (curl in a locked-down container; upstream: python http.server / ssl):');
  console.log(table(await throughput(paths)));
  console.log('\nper-connection latency, small file, new connection each (ms):');
  console.log(table(await latency(paths)));
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    const left = await lab.cleanup();
    if (left.length) console.error(`left behind: ${left.join(' ')}`);
  });
