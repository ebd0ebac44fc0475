import test from 'ava';
import { ConfigurationError } from '../../server/errors.js';
import { parseEgressLogLine, NetworkTally } from '../../server/egress/access-log.js';
import { parseEgress } from '../../server/egress/egress-schema.js';
import { buildProxyConfig, resolveSecretValues } from '../../server/egress/proxy-config.js';
import { registerRun, registryFile, sandboxEgressEnv } from '../../server/egress/run-registration.js';

const npm = parseEgress({
  allow: ['pkg.example:443', '*.example.org', 'bars-allowed:8080'],
  secrets: [{ name: 'NPM_TOKEN', from_env: 'CAPSULE_SECRET_NPM_TOKEN', hosts: ['pkg.example'] }],
});
const readOnly = parseEgress({ allow: ['docs.example'], methods: ['GET', 'HEAD'] });
const profiles = [
  { name: 'npm', egress: npm },
  { name: 'read-only', egress: readOnly },
];
const secretValues = { npm: { NPM_TOKEN: 'real-value-42' }, 'read-only': {} };

function conf(): string {
  return buildProxyConfig({ profiles, secretValues }).files['config/squid.conf'] as string;
}

test('each allow entry becomes a name-only host ACL with its ports', (t) => {
  const c = conf();
  t.regex(c, /^acl p_npm_r0_host dstdomain -n pkg\.example$/m);
  t.regex(c, /^acl p_npm_r0_port port 443$/m);
  t.regex(c, /^acl p_npm_r1_host dstdom_regex -n -i \\\.example\\\.org\$$/m);
  t.regex(c, /^acl p_npm_r1_port port 80 443$/m);
  t.regex(c, /^acl p_npm_r2_port port 8080$/m);
  t.regex(c, /^acl p_npm_dest any-of p_npm_r0 p_npm_r1 p_npm_r2$/m);
});

test('profiles are told apart by the authenticated user name, anchored at its end', (t) => {
  const c = conf();
  t.regex(c, /^acl p_npm proxy_auth_regex \\\.npm\$$/m);
  t.regex(c, /^acl p_read_only proxy_auth_regex \\\.read\\-only\$$/m);
  // Every allow rule names its profile's user ACL first.
  for (const line of c.split('\n').filter((l) => l.startsWith('http_access allow'))) t.regex(line, /^http_access allow p_(npm|read_only) /);
});

test('unauthenticated requests are refused before any profile rule, and the rest is denied last', (t) => {
  const lines = conf().split('\n').filter((l) => l.startsWith('http_access'));
  t.is(lines[0], 'http_access deny !authenticated');
  t.is(lines.at(-1), 'http_access deny all deny_not_allowed');
});

test('a name is only resolved (blocked_dst) after it matched the allowlist', (t) => {
  for (const line of conf().split('\n').filter((l) => l.includes('blocked_dst') && l.startsWith('http_access'))) {
    t.regex(line, /^http_access deny p_\w+ p_\w+_dest blocked_dst /);
  }
  t.regex(conf(), /^acl blocked_dst dst 0\.0\.0\.0\/8 127\.0\.0\.0\/8 169\.254\.0\.0\/16 ::1 fe80::\/10$/m);
  const withNet = buildProxyConfig({ profiles, secretValues, denyDestinations: ['172.30.0.0/16'] }).files['config/squid.conf'] as string;
  t.regex(withNet, /^acl blocked_dst dst .* 172\.30\.0\.0\/16$/m);
});

test('secret hosts go to the intercepting leg; other hosts are spliced', (t) => {
  const c = conf();
  t.regex(c, /^acl p_npm_s0 dstdomain -n pkg\.example$/m);
  t.regex(c, /^http_access allow p_npm p_npm_dest p_npm_secret allow_intercept$/m);
  t.regex(c, /^http_access allow p_npm p_npm_dest allow_direct$/m);
  t.notRegex(c, /^http_access allow p_npm CONNECT/m);
  t.regex(c, /^never_direct allow route_intercept$/m);
  t.regex(c, /^cache_peer 127\.0\.0\.1 parent 3129 0 .*login=\*:capsule/m);
});

test('a method limit denies other methods over HTTP and intercepts all of the profile HTTPS', (t) => {
  const c = conf();
  t.regex(c, /^acl p_read_only_methods method GET HEAD$/m);
  t.regex(c, /^http_access deny p_read_only !CONNECT !p_read_only_methods deny_method$/m);
  t.regex(c, /^http_access allow p_read_only CONNECT p_read_only_dest allow_intercept$/m);
  const policy = JSON.parse(buildProxyConfig({ profiles, secretValues }).files['config/policy.json'] as string);
  t.deepEqual(policy.profiles['read-only'], { methods: ['GET', 'HEAD'], intercept_all: true, secrets: [] });
  t.deepEqual(policy.profiles.npm, { methods: null, intercept_all: false, secrets: [{ name: 'NPM_TOKEN', hosts: ['pkg.example'] }] });
});

test('the secret value is only in secrets.json, never in squid.conf or policy.json', (t) => {
  const out = buildProxyConfig({ profiles, secretValues });
  t.deepEqual(out.secretFiles, ['config/secrets.json']);
  t.true((out.files['config/secrets.json'] as string).includes('real-value-42'));
  for (const [name, text] of Object.entries(out.files)) {
    if (name !== 'config/secrets.json') t.false(text.includes('real-value-42'), name);
  }
});

test('the access log is JSON lines with every value a string', (t) => {
  const line = /^logformat capsule (.*)$/m.exec(conf())?.[1] as string;
  // Substitute every %code with a value squid could print ("-" included) and check it is still JSON.
  const sample = line.replace(/%[^"]+/g, '-');
  t.notThrows(() => JSON.parse(sample));
  for (const field of ['user', 'method', 'host', 'port', 'status', 'decision', 'reason']) t.true(line.includes(`"${field}":"`), field);
});

test('bad profile names and duplicate profiles are configuration errors', (t) => {
  t.throws(() => buildProxyConfig({ profiles: [{ name: 'Bad.Name', egress: npm }], secretValues: {} }), { instanceOf: ConfigurationError, message: /Bad\.Name/ });
  t.throws(() => buildProxyConfig({ profiles: [profiles[1]!, profiles[1]!], secretValues }), { message: /listed twice/ });
  t.throws(() => buildProxyConfig({ profiles, secretValues: {} }), { message: /no value resolved for secret NPM_TOKEN/ });
  t.throws(() => buildProxyConfig({ profiles, secretValues, denyDestinations: ['10.0.0.0/8 all'] }), { message: /not an address or CIDR/ });
});

test('secret values come from the env or a file; a missing source names the profile and key', (t) => {
  t.deepEqual(resolveSecretValues(profiles, { CAPSULE_SECRET_NPM_TOKEN: 'v1' }, () => 'x'), { npm: { NPM_TOKEN: 'v1' }, 'read-only': {} });
  const err = t.throws(() => resolveSecretValues(profiles, {}, () => 'x'), { instanceOf: ConfigurationError });
  t.regex(err!.message, /profile npm: egress\.secrets\.0\.from_env: CAPSULE_SECRET_NPM_TOKEN is not set/);
  const fromFile = parseEgress({ allow: ['a.example'], secrets: [{ name: 'T', from_file: '/run/secrets/t', hosts: ['a.example'] }] });
  t.deepEqual(resolveSecretValues([{ name: 'f', egress: fromFile }], {}, () => 'file-value\n'), { f: { T: 'file-value' } });
  const missing = t.throws(() => resolveSecretValues([{ name: 'f', egress: fromFile }], {}, () => { throw Object.assign(new Error('x'), { code: 'ENOENT' }); }));
  t.regex(missing!.message, /profile f: egress\.secrets\.0\.from_file: cannot read \/run\/secrets\/t: ENOENT/);
  t.throws(() => resolveSecretValues(profiles, { CAPSULE_SECRET_NPM_TOKEN: 'a\nb' }, () => ''), { message: /line break/ });
});

test('a run gets credentials, one placeholder per secret, and a registry entry without the token', (t) => {
  let n = 0;
  const random = (size: number) => Buffer.alloc(size, ++n);
  const run = registerRun('run_0123456789abcdef', 'npm', npm, random);
  t.is(run.user, 'run_0123456789abcdef.npm');
  t.regex(run.secretEnv.NPM_TOKEN as string, /^capsule_ph_[0-9a-f]{32}$/);
  const registry = JSON.parse(registryFile([run.registration]));
  const entry = registry.runs.run_0123456789abcdef;
  t.is(entry.profile, 'npm');
  t.regex(entry.token_sha256, /^[0-9a-f]{64}$/);
  t.deepEqual(entry.placeholders, { [run.secretEnv.NPM_TOKEN as string]: 'NPM_TOKEN' });
  t.false(JSON.stringify(registry).includes(run.token));
  t.throws(() => registerRun('run.x', 'npm', npm), { message: /must be/ });
  t.notDeepEqual(registerRun('run_a', 'npm', npm).secretEnv, registerRun('run_a', 'npm', npm).secretEnv);
});

test('the sandbox env points every client at the proxy by IP and at the CA files', (t) => {
  const run = registerRun('run_1', 'npm', npm);
  const env = sandboxEgressEnv({ proxyIp: '172.30.0.2', run });
  const url = `http://run_1.npm:${run.token}@172.30.0.2:3128`;
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) t.is(env[k], url, k);
  t.is(env.NODE_EXTRA_CA_CERTS, '/etc/capsule/egress/ca.crt');
  for (const k of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT', 'NPM_CONFIG_CAFILE']) {
    t.is(env[k], '/etc/capsule/egress/ca-bundle.crt', k);
  }
  t.is(env.NPM_TOKEN, run.secretEnv.NPM_TOKEN);
  t.false(Object.values(env).includes('real-value-42'));
});

const squidLine = (o: Record<string, string>) => JSON.stringify({ source: 'squid', ts: 1, user: 'run_a.npm', method: 'CONNECT', host: 'pkg.example', port: '443', status: '200', bytes_out: '10', decision: 'allowed', reason: '-', squid: 'TCP_TUNNEL', ...o });

test('log lines become events attributed to runs; 407 lines are never attributed', (t) => {
  const ok = parseEgressLogLine(squidLine({}));
  t.like(ok, { runId: 'run_a', profile: 'npm', host: 'pkg.example', port: 443, decision: 'allowed', status: 200, bytes: 10 });
  const forged = parseEgressLogLine(squidLine({ status: '407', decision: '-', squid: 'TCP_DENIED' }));
  t.like(forged, { runId: null, decision: 'denied', reason: 'auth' });
  t.like(parseEgressLogLine(squidLine({ status: '-', bytes_out: '-' })), { status: null, bytes: 0 });
  t.is(parseEgressLogLine('2026/12/01 squid starting'), null);
  t.is(parseEgressLogLine('{"source":"entrypoint"}'), null);
});

test('the tally counts squid requests per host and port, and intercept denials, once each', (t) => {
  const tally = new NetworkTally();
  const lines = [
    squidLine({}),
    squidLine({}),
    squidLine({ method: 'GET', host: 'evil.example', port: '80', status: '403', decision: 'denied', reason: 'not_allowed' }),
    JSON.stringify({ source: 'intercept', user: 'run_a.npm', method: 'GET', host: 'pkg.example', port: 443, decision: 'allowed', status: 200, bytes: 5, secrets: ['NPM_TOKEN'] }),
    JSON.stringify({ source: 'intercept', user: 'run_a.npm', method: 'POST', host: 'pkg.example', port: 443, decision: 'denied', reason: 'method', status: 403, bytes: 0, secrets: [] }),
    squidLine({ user: 'run_b.npm' }),
  ];
  for (const l of lines) {
    const e = parseEgressLogLine(l);
    if (e) tally.add(e);
  }
  t.deepEqual(tally.summary('run_a'), {
    allowed: [{ host: 'pkg.example', port: 443, requests: 2 }],
    denied: [{ host: 'evil.example', port: 80, attempts: 1 }, { host: 'pkg.example', port: 443, attempts: 1 }],
  });
  t.deepEqual(tally.summary('run_b').allowed, [{ host: 'pkg.example', port: 443, requests: 1 }]);
  tally.forget('run_a');
  t.deepEqual(tally.summary('run_a'), { allowed: [], denied: [] });
});
