import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireEngine } from '../helpers/engine.js';
import { docker, EGRESS_IMAGE } from '../helpers/egress-lab.js';
import { clientPy, leftBy, profileYaml, startUpstreams, type Upstreams } from '../helpers/egress-upstreams.js';
import { startSink } from '../helpers/http-sink.js';
import { httpClient } from '../helpers/mcp-client.js';
import { startServer, type RunningServer } from '../helpers/server-process.js';

// Controlled egress through the real server, its real proxy and real sandboxes, over MCP: allow and
// deny with pip and npm, no way around the proxy, secrets the sandbox never sees, profiles kept apart,
// the host out of reach, the proxy re-created, nothing left after shutdown. Every upstream is a
// container this file starts; no outside address is used.

interface Network { allowed: Array<{ host: string; port: number | null; requests: number }>; denied: Array<{ host: string; port: number | null; attempts: number }> }
interface Result { run_id: string; status: string; exit_code: number | null; stdout: string; stderr: string; network?: Network }

const SECRET = `real-${randomBytes(12).toString('hex')}`;
let up: Upstreams;
let server: RunningServer;
let sink: Awaited<ReturnType<typeof startSink>>;
let call: Awaited<ReturnType<typeof httpClient>>['call'];

const TEAM_A = `egress:
  allow: ["up-http:8000", "up-https:8443", "sec-http:8000", "sec-https:8443"]
  secrets:
    - name: API_TOKEN
      from_env: CAPSULE_SECRET_EGRESS_TEST
      hosts: ["sec-http", "sec-https"]`;
const TEAM_B = `egress:
  allow: ["up-http:8000", "up-https:8443"]
  methods: [GET, HEAD]`;

async function runWithText(profile: string, command: string, stdin?: string): Promise<{ s: Result; text: string }> {
  return call<Result>('run_command', { profile, command, timeout_ms: 120_000, ...(stdin ? { stdin } : {}) });
}

async function run(profile: string, command: string, stdin?: string): Promise<Result> {
  return (await runWithText(profile, command, stdin)).s;
}

/** Requests through client.py (urllib with the proxy variables) in a sandbox of `profile`; one reply per request. */
async function requests(profile: string, reqs: object[]): Promise<{ result: Result; replies: Array<{ status?: number; body?: string; error?: string }> }> {
  const result = await run(profile, `python3 - '${JSON.stringify(reqs)}'`, clientPy);
  const replies = result.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  if (replies.length !== reqs.length) throw new Error(`client failed: ${JSON.stringify(result)}`);
  return { result, replies };
}

const headersOf = (reply: { body?: string }) => (JSON.parse(reply.body ?? '{}') as { headers?: Record<string, string> }).headers ?? {};
const egressContainers = (instance: string) => docker(['ps', '-q', '--filter', `label=capsule.instance=${instance}`, '--filter', 'label=capsule.kind=egress-proxy']).then((r) => r.stdout.split('\n').filter(Boolean));
const internalNetwork = async (instance: string) => JSON.parse((await docker(['network', 'inspect', `${instance}-egress-in`])).stdout)[0] as { IPAM: { Config: Array<{ Subnet: string; Gateway: string }> }; Options: Record<string, string> };

function profilesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-egress-profiles-'));
  writeFileSync(join(dir, 'default.yaml'), profileYaml('default, no network', ''));
  writeFileSync(join(dir, 'team-a.yaml'), profileYaml('team A: its upstreams and its secret', TEAM_A));
  writeFileSync(join(dir, 'team-b.yaml'), profileYaml('team B: GET and HEAD to two upstreams', TEAM_B));
  return dir;
}

test.before(async () => {
  await requireEngine();
  await docker(['image', 'inspect', EGRESS_IMAGE]).catch(() => {
    throw new Error(`image ${EGRESS_IMAGE} missing: run bash images/build.sh egress-proxy`);
  });
  up = await startUpstreams();
  sink = await startSink();
  server = await startServer({
    CAPSULE_PROFILES_DIR: profilesDir(),
    CAPSULE_ALLOW_NETWORK_PROFILES: '1',
    CAPSULE_EGRESS_NETWORK: up.lab.outside,
    CAPSULE_EGRESS_UPSTREAM_CA: up.caFile,
    CAPSULE_SECRET_EGRESS_TEST: SECRET,
    CAPSULE_LOG_LEVEL: 'debug',
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_BSP_SCHEDULE_DELAY: '200',
  });
  ({ call } = await httpClient(server.url));
});

test.after.always(async () => {
  await server?.stop();
  await sink?.close();
  await up?.lab.cleanup();
});

test.serial('list_profiles shows what each egress profile may reach, and secret names without values', async (t) => {
  const { s } = await call<{ profiles: Array<{ name: string; network: string; egress?: { allow: string[]; methods: string[] | null; secrets: Array<{ name: string }> } }> }>('list_profiles');
  const a = s.profiles.find((p) => p.name === 'team-a');
  t.is(a?.network, 'egress proxy');
  t.deepEqual(a?.egress?.allow, ['up-http:8000', 'up-https:8443', 'sec-http:8000', 'sec-https:8443']);
  t.deepEqual(a?.egress?.secrets.map((x) => x.name), ['API_TOKEN']);
  t.deepEqual(s.profiles.find((p) => p.name === 'team-b')?.egress?.methods, ['GET', 'HEAD']);
  t.false(JSON.stringify(s).includes(SECRET));
});

test.serial('pip installs and npm views through the proxy from local upstreams; the result lists what was reached', async (t) => {
  const r = await run('team-a', [
    'pip install -q --no-cache-dir --index-url https://up-https:8443/simple/ capsule-probe',
    'python3 -c "import capsule_probe; print(capsule_probe.VALUE)"',
    'npm view capsule-probe version --registry https://up-https:8443/ --no-update-notifier',
    'curl -sS http://up-http:8000/hello.txt',
  ].join(' && '));
  t.is(r.exit_code, 0, JSON.stringify(r));
  t.is(r.stdout, '42\n1.2.3\nhello');
  // A spliced HTTPS connection counts once, whatever it carried (pip reuses one for index and wheel).
  t.true(r.network!.allowed.some((a) => a.host === 'up-https' && a.port === 8443 && a.requests >= 2), JSON.stringify(r.network));
  t.true(r.network!.allowed.some((a) => a.host === 'up-http' && a.port === 8000 && a.requests === 1));
  t.deepEqual(r.network!.denied, []);
});

test.serial('a name or port not on the list is refused with 403 and shows in network.denied', async (t) => {
  const { s: r, text } = await runWithText('team-a', [
    // (pip ignores a plain-HTTP index it was not told to trust: it asks nothing there.)
    'pip download -q --no-deps --retries 0 --timeout 5 -d /tmp/dl --index-url https://denied-host:8443/simple/ capsule-probe; echo "pip=$?"',
    'curl -s -o /dev/null -w "%{http_code}\\n" http://up-http:8001/hello.txt',
    'curl -s -o /dev/null -w "%{http_code}\\n" http://denied-host:8000/hello.txt',
  ].join('; '));
  t.regex(r.stdout, /^pip=[1-9]/m, r.stdout + r.stderr);
  t.regex(text, /egress proxy refused: .*denied-host:8443 \(\d+x\)/, 'the text a model reads says it too');
  t.regex(r.stdout, /^403$/m);
  for (const [host, port] of [['denied-host', 8000], ['up-http', 8001], ['denied-host', 8443]] as const) {
    t.true(r.network!.denied.some((d) => d.host === host && d.port === port && d.attempts >= 1), `${host}:${port} in ${JSON.stringify(r.network)}`);
  }
});

test.serial('no way around the proxy: no name resolves, and direct connections to the upstreams and the intercepting leg fail', async (t) => {
  const proxyIp = (await internalNetwork(server.instance)).IPAM.Config[0]!.Subnet.replace(/0\/\d+$/, '2');
  const script = [
    'import json, socket',
    'out = {}',
    `for key, addr in {"allowed": ("${up.allowedIp}", 8000), "denied": ("${up.deniedIp}", 8000), "mitm": ("${proxyIp}", 3129), "proxy": ("${proxyIp}", 3128)}.items():`,
    '    try: socket.create_connection(addr, 2).close(); out[key] = "connected"',
    '    except OSError as e: out[key] = type(e).__name__',
    'print(json.dumps(out))',
  ].join('\n');
  const r = await run('team-a', `getent hosts up-http; echo "getent=$?"; getent hosts denied-host; echo "getent=$?"; python3 -`, script);
  t.deepEqual(r.stdout.match(/getent=\d/g), ['getent=2', 'getent=2'], r.stdout);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  t.is(out.proxy, 'connected', 'the proxy is the one address a sandbox reaches');
  for (const k of ['allowed', 'denied', 'mitm']) t.not(out[k], 'connected', `${k}: ${r.stdout}`);
});

test.serial('an egress sandbox keeps every other lockdown: non-root, no capabilities, read-only root, its limits', async (t) => {
  const r = await run('team-a', 'id -u; sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status; touch /probe 2>/dev/null && echo writable || echo read-only; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; ls -l /etc/capsule/egress/ca.crt | cut -c1-10; touch /etc/capsule/egress/x 2>/dev/null && echo ca-writable || echo ca-read-only');
  t.deepEqual(r.stdout.trim().split('\n'), ['10001', '0000000000000000', 'read-only', String(512 * 1024 * 1024), '256', '-rw-r--r--', 'ca-read-only'], r.stderr);
});

test.serial('the host is out of reach: a listener on the internal network\'s gateway address answers the host, not the sandbox', async (t) => {
  const net = await internalNetwork(server.instance);
  t.regex(net.Options['com.docker.network.bridge.name'] ?? '', /^capsule-egr\d+$/);
  const gateway = net.IPAM.Config[0]!.Gateway;
  const listener: Server = createServer((s) => s.end('host service\n'));
  await new Promise<void>((resolve) => listener.listen(0, gateway, resolve));
  t.teardown(() => listener.close());
  const port = (listener.address() as { port: number }).port;
  const fromHost = await new Promise<string>((resolve, reject) => {
    const s = connect(port, gateway);
    s.once('data', (d: Buffer) => resolve(d.toString()));
    s.once('error', reject);
  });
  t.is(fromHost, 'host service\n', 'the listener works');
  const r = await run('team-a', `python3 -c "import socket; socket.create_connection(('${gateway}', ${port}), 3); print('reached')" 2>&1 | tail -1`);
  t.notRegex(r.stdout, /reached/, `the sandbox reached the host at ${gateway}:${port} (scripts/provision-docker-engine.sh adds iptables -I INPUT -i capsule-egr+ -j DROP)`);
  t.regex(r.stdout, /timed out|Timeout|refused/i);
});

test.serial('a secret is swapped in for its hosts over HTTP and HTTPS, and nowhere else', async (t) => {
  const probe = await run('team-a', 'printf %s "$API_TOKEN"');
  t.regex(probe.stdout, /^capsule_ph_[0-9a-f]{32}$/, 'the sandbox holds a per-run placeholder');
  // client.py expands $API_TOKEN from the sandbox's env: the placeholder is what the request carries.
  const headers = { Authorization: 'Bearer $API_TOKEN' };
  const { result, replies } = await requests('team-a', [
    { url: 'http://sec-http:8000/echo', headers }, { url: 'https://sec-https:8443/echo', headers },
    { url: 'http://up-http:8000/echo', headers }, { url: 'https://up-https:8443/echo', headers },
  ]);
  const [http, https, other, otherTls] = replies.map(headersOf);
  // /echo reflects request headers: a secret host that does this hands the value to the code (SECURITY.md).
  t.is(http!.Authorization, `Bearer ${SECRET}`, JSON.stringify(replies[0]));
  t.is(https!.Authorization, `Bearer ${SECRET}`);
  t.regex(other!.Authorization ?? '', /^Bearer capsule_ph_[0-9a-f]{32}$/, 'another allowed host gets the placeholder');
  t.regex(otherTls!.Authorization ?? '', /^Bearer capsule_ph_[0-9a-f]{32}$/);
  t.true(result.network!.allowed.some((a) => a.host === 'sec-https' && a.port === 8443));
});

test.serial('the secret value is in no result, run record, server log or exported trace', async (t) => {
  const headers = { Authorization: 'Bearer $API_TOKEN', 'X-Api-Key': '$API_TOKEN' };
  const { result, replies } = await requests('team-a', [{ url: 'http://sec-http:8000/hello.txt', headers }, { url: 'https://sec-https:8443/hello.txt', headers }]);
  t.deepEqual(replies.map((r) => r.status), [200, 200]);
  const record = await call('get_run', { run_id: result.run_id });
  const runs = await call('list_runs', {});
  await sink.waitFor((rec) => rec.some((x) => x.path === '/v1/traces' && x.body.includes(result.run_id)));
  const where = {
    'the run result': JSON.stringify(result),
    'the run record (get_run, list_runs)': JSON.stringify(record.s) + JSON.stringify(runs.s),
    'the server log (debug level, the proxy diagnostics included)': server.stderr(),
    'the exported traces and metrics': sink.received.map((x) => x.body.toString('utf8')).join('\n'),
  };
  t.true(server.stderr().includes(result.run_id), 'the log is there to search');
  for (const [what, text] of Object.entries(where)) t.false(text.includes(SECRET), `the secret value is in ${what}`);
});

test.serial('profile B cannot use profile A\'s allowlist: not with its own credentials, not by claiming profile A', async (t) => {
  const own = await run('team-b', 'curl -s -o /dev/null -w "%{http_code}" http://sec-http:8000/hello.txt');
  t.is(own.stdout, '403');
  t.true(own.network!.denied.some((d) => d.host === 'sec-http' && d.port === 8000));
  const claim = await run('team-b', 'curl -s -o /dev/null -w "%{http_code}" -x "$(printf %s "$HTTP_PROXY" | sed "s/\\.team-b:/.team-a:/")" http://sec-http:8000/hello.txt');
  t.is(claim.stdout, '407', 'a run cannot claim another profile');
});

test.serial('method limits hold over HTTP and inside HTTPS (intercepted for a profile with methods)', async (t) => {
  const { replies, result } = await requests('team-b', [
    { url: 'http://up-http:8000/echo', method: 'POST' }, { url: 'https://up-https:8443/echo', method: 'POST' },
    { url: 'https://up-https:8443/echo' }, { url: 'http://up-http:8000/hello.txt', method: 'HEAD' },
  ]);
  t.deepEqual(replies.map((r) => r.status ?? r.error), [403, 403, 200, 200], JSON.stringify(replies));
  t.true(result.network!.denied.some((d) => d.host === 'up-http' && d.port === 8000));
  t.true(result.network!.denied.some((d) => d.host === 'up-https' && d.port === 8443));
});

test.serial('the proxy is re-created when killed, at the same address, and runs work again', async (t) => {
  const [first] = await egressContainers(server.instance);
  t.truthy(first);
  const addressOf = async (id: string) => (await docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${server.instance}-egress-in").IPAddress}}`, id])).stdout.trim();
  const before = await addressOf(first!);
  await docker(['kill', first!]);
  let next: string | undefined;
  for (let i = 0; i < 120 && !next; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const [id] = await egressContainers(server.instance);
    const health = id ? (await docker(['inspect', '-f', '{{.State.Health.Status}}', id], { allowFail: true })).stdout.trim() : '';
    if (id && id !== first && health === 'healthy') next = id;
  }
  t.truthy(next, 'a new healthy proxy');
  t.is(await addressOf(next!), before, 'at the pinned address sandboxes are given');
  const r = await run('team-a', 'curl -sS http://up-http:8000/hello.txt');
  t.is(r.stdout, 'hello');
});

test.serial('shutdown removes the proxy, its networks and volumes (the operator\'s outside network stays)', async (t) => {
  t.is(await server.stop(), 0);
  t.deepEqual(await leftBy(server.instance), []);
  t.is((await docker(['network', 'inspect', up.lab.outside], { allowFail: true })).code, 0);
});

test.serial('without CAPSULE_EGRESS_NETWORK the server creates <instance>-outside, and removes it at shutdown', async (t) => {
  const other = await startServer({ CAPSULE_PROFILES_DIR: profilesDir(), CAPSULE_ALLOW_NETWORK_PROFILES: '1', CAPSULE_SECRET_EGRESS_TEST: SECRET });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : other.stop()));
  const outside = JSON.parse((await docker(['network', 'inspect', `${other.instance}-outside`])).stdout)[0] as { Internal: boolean; Labels: Record<string, string> };
  t.false(outside.Internal);
  t.is(outside.Labels['capsule.kind'], 'egress-network');
  t.is(await other.stop(), 0);
  stopped = true;
  t.deepEqual(await leftBy(other.instance), []);
  t.not((await docker(['network', 'inspect', `${other.instance}-outside`], { allowFail: true })).code, 0);
});
