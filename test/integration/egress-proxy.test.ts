import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkTally, parseEgressLogLine, type EgressLogEvent } from '../../server/egress/access-log.js';
import { parseEgress } from '../../server/egress/egress-schema.js';
import { buildProxyConfig, resolveSecretValues } from '../../server/egress/proxy-config.js';
import { registerRun, registryFile, sandboxEgressEnv, type RunEgress } from '../../server/egress/run-registration.js';
import { projectRoot } from '../../server/version.js';
import { docker, EGRESS_IMAGE, EgressLab } from '../helpers/egress-lab.js';

// The egress proxy with real containers: one shared proxy, two egress profiles, local upstreams on
// an "outside" network reached by name, sandboxes with Capsule's lockdown on an internal network.
// Every address used belongs to containers this file creates.

const lab = new EgressLab();
const secretValue = `real-${randomBytes(12).toString('hex')}`;
const teamA = parseEgress({
  allow: ['up-http:8000', 'up-https:8443', 'sec-http:8000', 'sec-https:8443', '*.wild.test:8000', 'localhost:3129'],
  secrets: [{ name: 'API_TOKEN', from_env: 'CAPSULE_TEST_EGRESS_TOKEN', hosts: ['sec-http', 'sec-https'] }],
});
const teamB = parseEgress({ allow: ['up-http:8000', 'up-https:8443'], methods: ['GET', 'HEAD'] });
const profiles = [{ name: 'team-a', egress: teamA }, { name: 'team-b', egress: teamB }];
const runId = () => `run_${randomBytes(8).toString('hex')}`;
const runA = registerRun(runId(), 'team-a', teamA);
const runA2 = registerRun(runId(), 'team-a', teamA);
const runB = registerRun(runId(), 'team-b', teamB);
const clientPy = readFileSync(join(projectRoot, 'test', 'fixtures', 'egress', 'client.py'), 'utf8');
let proxyIp = '';
let allowedIp = '';
let deniedIp = '';

// The upstreams' test CA stands in for the public roots a real upstream chains to: the sandbox gets
// it appended to the proxy's bundle (what it needs for spliced hosts), the proxy gets it as upstream-ca.pem.
const TRUST_TEST_CA = [
  'cat /etc/capsule/egress/ca-bundle.crt > /tmp/bundle.pem && printf "%s\\n" "$TEST_CA" >> /tmp/bundle.pem',
  'cat /etc/capsule/egress/ca.crt > /tmp/extra.pem && printf "%s\\n" "$TEST_CA" >> /tmp/extra.pem',
  'export SSL_CERT_FILE=/tmp/bundle.pem CURL_CA_BUNDLE=/tmp/bundle.pem GIT_SSL_CAINFO=/tmp/bundle.pem NODE_EXTRA_CA_CERTS=/tmp/extra.pem',
].join(' && ');

function envOf(run: RunEgress): Record<string, string> {
  return { ...sandboxEgressEnv({ proxyIp, run }), TEST_CA: lab.pki.caPem };
}

/** Run shell `script` in a locked-down sandbox of `run` that trusts the proxy CA and the test CA. */
function sh(run: RunEgress, script: string, image?: string) {
  return lab.sandbox(['-c', `${TRUST_TEST_CA} && ${script}`], { env: envOf(run), entrypoint: 'sh', image });
}

interface Reply { status?: number; body?: string; error?: string }

/** Requests through client.py (urllib with the proxy variables) from a sandbox of `run`; the script comes in on stdin. */
async function requests(run: RunEgress, reqs: object[], env: Record<string, string> = {}): Promise<Reply[]> {
  const arg = JSON.stringify(reqs).replace(/'/g, "'\\''");
  const r = await lab.sandbox(['-c', `${TRUST_TEST_CA} && exec python3 - '${arg}'`], { env: { ...envOf(run), ...env }, entrypoint: 'sh', input: clientPy });
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  if (lines.length !== reqs.length) throw new Error(`client failed (${r.code}): ${r.stdout} ${r.stderr.slice(-1500)}`);
  return lines.map((l) => JSON.parse(l) as Reply);
}

async function events(): Promise<EgressLogEvent[]> {
  const { stdout } = await lab.proxyLogs();
  return stdout.split('\n').map(parseEgressLogLine).filter((e): e is EgressLogEvent => e !== null);
}

async function summary(run: RunEgress) {
  const tally = new NetworkTally();
  for (const e of await events()) tally.add(e);
  return tally.summary(run.registration.runId);
}

const echoHeaders = (reply: Reply) => (JSON.parse(reply.body ?? '{}') as { headers?: Record<string, string> }).headers ?? {};

test.before(async () => {
  await docker(['image', 'inspect', EGRESS_IMAGE]).catch(() => {
    throw new Error(`image ${EGRESS_IMAGE} missing: run bash images/build.sh egress-proxy`);
  });
  await lab.create(['up-https', 'sec-https', 'denied-host']);
  const git = 'export HOME=/tmp; git init -q -b main /tmp/src && printf x > /tmp/src/f && git -C /tmp/src add f'
    + ' && git -C /tmp/src -c user.name=t -c user.email=t@t commit -qm init && git clone -q --bare /tmp/src repo.git'
    + ' && git -C repo.git update-server-info && printf \'{"name":"pkg","dist-tags":{"latest":"1.2.3"}}\' > pkg';
  await lab.startUpstream('allowed', ['up-http', 'up-https', 'sec-http', 'sec-https', 'files.wild.test'], git);
  await lab.startUpstream('denied', ['denied-host']);
  const secretValues = resolveSecretValues(profiles, { CAPSULE_TEST_EGRESS_TOKEN: secretValue }, () => '');
  const config = buildProxyConfig({ profiles, secretValues, upstreamCaPem: lab.pki.caPem });
  await lab.startProxy(config, registryFile([runA.registration, runA2.registration, runB.registration]));
  proxyIp = await lab.proxyIp();
  allowedIp = await lab.ipOf(`egt-${lab.id}-allowed`, lab.outside);
  deniedIp = await lab.ipOf(`egt-${lab.id}-denied`, lab.outside);
});

test.after.always(async () => {
  await lab.cleanup();
});

test.serial('allowed names and ports are reached by urllib, curl, node fetch and git, spliced for HTTPS', async (t) => {
  const [http, https, wild] = await requests(runA, [
    { url: 'http://up-http:8000/hello.txt' }, { url: 'https://up-https:8443/hello.txt' }, { url: 'http://files.wild.test:8000/hello.txt' },
  ]);
  t.deepEqual([http?.status, http?.body, https?.status, https?.body, wild?.status], [200, 'hello', 200, 'hello', 200], JSON.stringify([http, https, wild]));
  // curl is not in the sandbox image: the proxy image's curl, under the same lockdown.
  const curl = await sh(runA, 'curl -sSf http://up-http:8000/hello.txt && echo && curl -sSf https://up-https:8443/hello.txt', EGRESS_IMAGE);
  t.is(curl.stdout, 'hello\nhello', curl.stderr);
  const node = await sh(runA, `node -e "(async()=>{const p=await (await fetch('http://up-http:8000/pkg')).json();`
    + `const t=await (await fetch('https://up-https:8443/hello.txt')).text();console.log(p['dist-tags'].latest,t)})()" 2>/dev/null`);
  t.is(node.stdout.trim(), '1.2.3 hello', node.stderr);
  const git = await sh(runA, 'git clone -q http://up-http:8000/repo.git /tmp/a && git clone -q https://up-https:8443/repo.git /tmp/b && cat /tmp/a/f /tmp/b/f');
  t.is(git.stdout, 'xx', git.stderr);
  const mine = (await events()).filter((e) => e.runId === runA.registration.runId && e.source === 'squid');
  t.true(mine.some((e) => e.method === 'CONNECT' && e.host === 'up-https' && e.port === 8443 && e.decision === 'allowed'));
  t.true(mine.some((e) => e.method === 'GET' && e.host === 'files.wild.test' && e.port === 8000 && e.status === 200));
  t.false((await events()).some((e) => e.source === 'intercept' && e.host === 'up-https' && e.runId === runA.registration.runId), 'up-https must be spliced for team-a');
});

test.serial('a name, port or address not on the list is refused with 403 and logged as denied with host and port', async (t) => {
  const replies = await requests(runA, [
    { url: 'http://denied-host:8000/hello.txt' }, { url: 'https://denied-host:8443/hello.txt' }, { url: 'http://up-http:8001/' },
    { url: `http://${allowedIp}:8000/hello.txt` }, { url: 'http://localhost:3129/' }, { url: 'http://wild.test:8000/hello.txt' },
  ], { NO_PROXY: '', no_proxy: '' });
  t.is(replies[0]?.status, 403);
  t.regex(replies[1]?.error ?? '', /403/);
  t.deepEqual(replies.slice(2).map((r) => r.status), [403, 403, 403, 403], JSON.stringify(replies));
  const s = await summary(runA);
  for (const [host, port] of [['denied-host', 8000], ['denied-host', 8443], ['up-http', 8001], [allowedIp, 8000], ['wild.test', 8000]] as const) {
    t.true(s.denied.some((d) => d.host === host && d.port === port), `${host}:${port} in ${JSON.stringify(s.denied)}`);
  }
  const local = (await events()).find((e) => e.host === 'localhost' && e.runId === runA.registration.runId);
  t.like(local, { decision: 'denied', reason: 'destination', port: 3129 });
});

test.serial('a method not allowed is refused over HTTP (squid) and inside intercepted HTTPS', async (t) => {
  const [postHttp, postHttps, getHttps, head] = await requests(runB, [
    { url: 'http://up-http:8000/echo', method: 'POST' }, { url: 'https://up-https:8443/echo', method: 'POST' },
    { url: 'https://up-https:8443/echo' }, { url: 'http://up-http:8000/hello.txt', method: 'HEAD' },
  ]);
  t.deepEqual([postHttp?.status, postHttps?.status, getHttps?.status, head?.status], [403, 403, 200, 200], JSON.stringify([postHttp, postHttps]));
  const mine = (await events()).filter((e) => e.runId === runB.registration.runId);
  t.true(mine.some((e) => e.source === 'squid' && e.method === 'POST' && e.reason === 'method'));
  t.true(mine.some((e) => e.source === 'intercept' && e.method === 'POST' && e.host === 'up-https' && e.reason === 'method'));
});

test.serial('the sandbox resolves no name and reaches no address but the proxy', async (t) => {
  const script = [
    'import socket, json',
    'out = {}',
    `for name in ("up-http", "denied-host", "sec-https", "${lab.proxy}"):`,
    '    try: socket.gethostbyname(name); out[name] = "resolved"',
    '    except OSError as e: out[name] = "no"',
    `for key, addr in {"allowed": ("${allowedIp}", 8000), "denied": ("${deniedIp}", 8000), "mitm": ("${proxyIp}", 3129), "proxy": ("${proxyIp}", 3128)}.items():`,
    '    try: socket.create_connection(addr, 3).close(); out[key] = "connected"',
    '    except OSError as e: out[key] = type(e).__name__',
    'print(json.dumps(out))',
  ].join('\n');
  const r = await lab.sandbox(['-c', `getent hosts up-http; echo "getent=$?"; python3 -c '${script}'`], { entrypoint: 'sh' });
  t.regex(r.stdout, /getent=2/);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  t.like(out, { 'up-http': 'no', 'denied-host': 'no', 'sec-https': 'no', proxy: 'connected' }, r.stdout);
  for (const k of ['allowed', 'denied', 'mitm']) t.not(out[k], 'connected', `${k}: ${r.stdout}`);
  // The engine's resolver still answers names of containers on the same internal network.
  t.log(`the proxy's container name from inside: ${out[lab.proxy]}`);
});

test.serial('one sandbox cannot hold more than 256 connections to the shared proxy', async (t) => {
  const script = [
    'import socket, time',
    `socks = [socket.create_connection(("${proxyIp}", 3128), 5) for _ in range(300)]`,
    'time.sleep(1.5)',
    'alive = 0',
    'for s in socks:',
    '    s.setblocking(False)',
    '    try: alive += 0 if s.recv(1) == b"" else 1',
    '    except BlockingIOError: alive += 1',
    '    except OSError: pass',
    'print(alive)',
  ].join('\n');
  const r = await lab.sandbox(['-c', script], { entrypoint: 'python3' });
  // squid closes each connection past the limit at accept; it counts the limit itself as allowed.
  const alive = Number(r.stdout.trim());
  t.true(alive >= 256 && alive <= 257, `${alive} of 300 connections stayed open ${r.stderr}`);
});

test.serial('a secret is substituted for its hosts over HTTP and HTTPS, and nowhere else', async (t) => {
  const ph = runA.secretEnv.API_TOKEN as string;
  const basic = (s: string) => `Basic ${Buffer.from(`user:${s}`).toString('base64')}`;
  const headers = { Authorization: `Bearer ${ph}`, 'X-Api-Key': `key=${ph};` };
  const [http, https, viaBasic, other, otherTls] = await requests(runA, [
    { url: 'http://sec-http:8000/echo', headers }, { url: 'https://sec-https:8443/echo', headers },
    { url: 'https://sec-https:8443/echo', headers: { Authorization: basic(ph) } },
    { url: 'http://up-http:8000/echo', headers }, { url: 'https://up-https:8443/echo', headers },
  ]);
  for (const reply of [http, https]) {
    t.is(echoHeaders(reply!).Authorization, `Bearer ${secretValue}`, JSON.stringify(reply));
    t.is(echoHeaders(reply!)['X-Api-Key'], `key=${secretValue};`);
  }
  t.is(echoHeaders(viaBasic!).Authorization, basic(secretValue));
  // The run's proxy credentials never reach an upstream, direct or through the intercepting leg.
  for (const reply of [http, other]) t.false(Object.keys(echoHeaders(reply!)).some((h) => /^proxy-/i.test(h)), JSON.stringify(reply));
  // Another allowed host gets the placeholder unchanged: HTTPS there is spliced (the proxy cannot see
  // it), and a placeholder is worth nothing outside the proxy and this run.
  for (const reply of [other, otherTls]) {
    t.is(echoHeaders(reply!).Authorization, `Bearer ${ph}`, JSON.stringify(reply));
    t.false(reply!.body?.includes(secretValue));
  }
  // Another run of the same profile cannot spend this run's placeholder.
  const [cross] = await requests(runA2, [{ url: 'https://sec-https:8443/echo', headers }]);
  t.is(echoHeaders(cross!).Authorization, `Bearer ${ph}`);
  const substituted = (await events()).filter((e) => e.source === 'intercept' && e.runId === runA.registration.runId && e.secrets.includes('API_TOKEN'));
  t.true(substituted.some((e) => e.host === 'sec-http') && substituted.some((e) => e.host === 'sec-https'));
  const env = await lab.sandbox(['-c', 'env'], { env: envOf(runA), entrypoint: 'sh' });
  t.true(env.stdout.includes(`API_TOKEN=${ph}`));
  t.false(env.stdout.includes(secretValue), 'the sandbox env holds the placeholder only');
  const logs = await lab.proxyLogs();
  t.false(logs.stdout.includes(secretValue) || logs.stderr.includes(secretValue), 'the real value is in no proxy log');
  t.false(logs.stdout.includes(ph), 'no header value is logged');
  const notJson = logs.stdout.split('\n').filter((l) => l && parseEgressLogLine(l) === null);
  t.deepEqual(notJson, [], 'stdout carries access records only (diagnostics go to stderr)');
});

test.serial('inside an intercepted tunnel, a request for another Host is refused', async (t) => {
  const [pinned] = await requests(runA, [{ url: 'https://sec-https:8443/echo', host: 'denied-host:8000', headers: {} }]);
  t.is(pinned?.status, 403, JSON.stringify(pinned));
  t.true((await events()).some((e) => e.source === 'intercept' && e.reason === 'host_mismatch' && e.runId === runA.registration.runId));
});

test.serial('profile B cannot use profile A allowlist: not with its own credentials, not by claiming the profile', async (t) => {
  const [a] = await requests(runA, [{ url: 'http://sec-http:8000/hello.txt' }]);
  const [b] = await requests(runB, [{ url: 'http://sec-http:8000/hello.txt' }]);
  t.is(a?.status, 200);
  t.is(b?.status, 403);
  const proxy = `${proxyIp}:3128`;
  const claim = await lab.sandbox(['-c', [
    `curl -s -o /dev/null -w '%{http_code} ' -x 'http://${runB.registration.runId}.team-a:${runB.token}@${proxy}' http://sec-http:8000/hello.txt`,
    `curl -s -o /dev/null -w '%{http_code} ' -x 'http://${runA.registration.runId}.team-a:wrong@${proxy}' http://sec-http:8000/hello.txt`,
    `curl -s -o /dev/null -w '%{http_code}' -x 'http://${proxy}' http://sec-http:8000/hello.txt`,
  ].join('; ')], { entrypoint: 'sh', image: EGRESS_IMAGE });
  t.is(claim.stdout, '407 407 407', claim.stderr);
  t.true((await summary(runB)).denied.some((d) => d.host === 'sec-http' && d.port === 8000));
  t.false((await summary(runA)).denied.some((d) => d.host === 'sec-http'), 'forged attempts are not charged to run A');
});

test.serial('a run removed from the registry loses access within seconds', async (t) => {
  const runC = registerRun(runId(), 'team-b', teamB);
  await lab.writeState({ 'registry/runs.json': registryFile([runA, runA2, runB, runC].map((r) => r.registration)) });
  const [before] = await requests(runC, [{ url: 'http://up-http:8000/hello.txt' }]);
  t.is(before?.status, 200);
  await lab.writeState({ 'registry/runs.json': registryFile([runA, runA2, runB].map((r) => r.registration)) });
  const started = Date.now();
  let status: number | undefined = 200;
  while (status === 200 && Date.now() - started < 20_000) {
    await new Promise((r) => setTimeout(r, 1000));
    [{ status }] = (await requests(runC, [{ url: 'http://up-http:8000/hello.txt' }])) as [Reply];
  }
  t.is(status, 407);
  t.log(`refused ${Date.now() - started} ms after removal (credentialsttl 5 s)`);
});

test.serial('the proxy keeps its config, registry and CA across a restart and a kill', async (t) => {
  const ca = async () => (await lab.sandbox(['/etc/capsule/egress/ca.crt'], { entrypoint: 'cat' })).stdout;
  const before = await ca();
  t.regex(before, /BEGIN CERTIFICATE/);
  await docker(['restart', lab.proxy]);
  await lab.waitHealthy();
  await docker(['kill', lab.proxy]);
  await docker(['start', lab.proxy]);
  await lab.waitHealthy();
  t.is(await ca(), before);
  const publicFiles = await lab.sandbox(['-c', 'cat /etc/capsule/egress/*'], { entrypoint: 'sh' });
  t.notRegex(publicFiles.stdout, /PRIVATE KEY/, 'the CA key stays in the state volume');
  // Docker re-allocates the address on start; the server must pin it (network --subnet, connect --ip).
  const now = await lab.proxyIp();
  t.log(`proxy address ${proxyIp} -> ${now}`);
  proxyIp = now;
  const [http, https] = await requests(runA, [
    { url: 'http://up-http:8000/hello.txt' }, { url: 'https://sec-https:8443/echo', headers: { Authorization: `Bearer ${runA.secretEnv.API_TOKEN}` } },
  ]);
  t.is(http?.status, 200);
  t.is(echoHeaders(https!).Authorization, `Bearer ${secretValue}`);
});

test.serial('cleanup leaves no container, network or volume', async (t) => {
  t.deepEqual(await lab.cleanup(), []);
});
