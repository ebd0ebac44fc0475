import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { ConfigurationError } from '../../server/errors.js';
import { hostMatches, parseAllowEntry, parseEgress, patternCovers } from '../../server/egress/egress-schema.js';

const example = parseYaml(`
allow: ["pkg.example:443", "*.example.org", "bars-allowed:8080"]
methods: [GET, HEAD]
secrets:
  - name: NPM_TOKEN
    from_env: CAPSULE_SECRET_NPM_TOKEN
    hosts: ["pkg.example"]
`);

test('the example from the issue parses into host patterns, ports and secrets', (t) => {
  const spec = parseEgress(example);
  t.deepEqual(spec.allow.map(({ host, wildcard, ports }) => ({ host, wildcard, ports })), [
    { host: 'pkg.example', wildcard: false, ports: [443] },
    { host: 'example.org', wildcard: true, ports: [80, 443] },
    { host: 'bars-allowed', wildcard: false, ports: [8080] },
  ]);
  t.deepEqual(spec.methods, ['GET', 'HEAD']);
  t.is(spec.secrets[0]?.name, 'NPM_TOKEN');
  t.deepEqual(spec.secrets[0]?.hosts, [{ host: 'pkg.example', wildcard: false }]);
});

test('methods and secrets are optional; names are lower-cased', (t) => {
  const spec = parseEgress({ allow: ['Files.Example.ORG'] });
  t.is(spec.methods, undefined);
  t.deepEqual(spec.secrets, []);
  t.is(spec.allow[0]?.host, 'files.example.org');
});

function rejects(raw: unknown, pattern: RegExp) {
  return (t: import('ava').ExecutionContext) => {
    const err = t.throws(() => parseEgress(raw), { instanceOf: ConfigurationError });
    t.regex(err!.message, pattern);
  };
}

test('an unknown key is an error naming it', rejects({ allow: ['a.example'], allowed: ['x'] }, /unknown key "egress\.allowed"/));
test('an unknown key in a secret is an error naming it', rejects(
  { allow: ['a.example'], secrets: [{ name: 'T', from_env: 'X', hosts: ['a.example'], value: 's' }] },
  /unknown key "egress\.secrets\.0\.value"/,
));
test('a URL is not a host', rejects({ allow: ['https://pkg.example'] }, /egress\.allow\.0: "https:\/\/pkg\.example" is a URL/));
test('an IP address is refused: names resolve only at the proxy', rejects({ allow: ['10.0.0.1:80'] }, /egress\.allow\.0: .* is an IP address/));
test('an IPv6 address is refused', rejects({ allow: ['[::1]:443'] }, /IP address/));
test('a path is not a host', rejects({ allow: ['pkg.example/simple'] }, /holds a path/));
test('a bare * is not a host', rejects({ allow: ['*'] }, /egress\.allow\.0/));
test('a wildcard in the middle is refused', rejects({ allow: ['a.*.example'] }, /leading "\*\."/));
test('a wildcard over a top-level name is refused', rejects({ allow: ['*.com'] }, /whole top-level name/));
test('a label with a space is refused', rejects({ allow: ['bad host'] }, /not a host name/));
test('port 0 is refused', rejects({ allow: ['a.example:0'] }, /port must be 1-65535/));
test('port 70000 is refused', rejects({ allow: ['a.example:70000'] }, /port must be 1-65535/));
test('an empty allow list is refused', rejects({ allow: [] }, /egress\.allow: egress\.allow needs at least one host/));
test('CONNECT is not a method to list', rejects({ allow: ['a.example'], methods: ['CONNECT'] }, /egress\.methods\.0: methods are GET/));
test('a secret without a source is an error naming it', rejects(
  { allow: ['a.example'], secrets: [{ name: 'T', hosts: ['a.example'] }] },
  /egress\.secrets\.0: secret T needs exactly one source/,
));
test('a secret with two sources is refused', rejects(
  { allow: ['a.example'], secrets: [{ name: 'T', from_env: 'X', from_file: '/run/x', hosts: ['a.example'] }] },
  /exactly one source/,
));
test('a relative from_file is refused', rejects(
  { allow: ['a.example'], secrets: [{ name: 'T', from_file: 'x', hosts: ['a.example'] }] },
  /egress\.secrets\.0\.from_file: must be an absolute path/,
));
test('a secret name that is not an env name is refused', rejects(
  { allow: ['a.example'], secrets: [{ name: 'NPM-TOKEN', from_env: 'X', hosts: ['a.example'] }] },
  /egress\.secrets\.0\.name/,
));
test('a secret host with a port is refused', rejects(
  { allow: ['a.example:443'], secrets: [{ name: 'T', from_env: 'X', hosts: ['a.example:443'] }] },
  /egress\.secrets\.0\.hosts\.0: .*secret hosts take no port/,
));
test('a secret host outside the allowlist is refused', rejects(
  { allow: ['a.example'], secrets: [{ name: 'T', from_env: 'X', hosts: ['b.example'] }] },
  /egress\.secrets\.0\.hosts\.0: b\.example is not covered by egress\.allow/,
));
test('a secret defined twice is refused', rejects(
  { allow: ['a.example'], secrets: [{ name: 'T', from_env: 'X', hosts: ['a.example'] }, { name: 'T', from_env: 'Y', hosts: ['a.example'] }] },
  /egress\.secrets\.1\.name: secret T is defined twice/,
));

test('*.suffix matches subdomains only, an exact name only itself', (t) => {
  const wild = parseAllowEntry('*.example.org');
  t.true(hostMatches(wild, 'a.example.org'));
  t.true(hostMatches(wild, 'a.b.example.org'));
  t.false(hostMatches(wild, 'example.org'));
  t.false(hostMatches(wild, 'badexample.org'));
  const exact = parseAllowEntry('pkg.example:8443');
  t.true(hostMatches(exact, 'pkg.example'));
  t.false(hostMatches(exact, 'sub.pkg.example'));
  t.deepEqual(exact.ports, [8443]);
});

test('a wildcard allow entry covers secret hosts under it', (t) => {
  const wild = parseAllowEntry('*.example.org');
  t.true(patternCovers(wild, { host: 'api.example.org', wildcard: false }));
  t.true(patternCovers(wild, { host: 'example.org', wildcard: true }));
  t.false(patternCovers(wild, { host: 'example.org', wildcard: false }));
  t.false(patternCovers(parseAllowEntry('api.example.org'), { host: 'example.org', wildcard: true }));
});
