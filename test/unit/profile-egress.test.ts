import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError, ForbiddenError } from '../../server/errors.js';
import { describeProfile, parseProfile, ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { projectRoot } from '../../server/version.js';

// The `egress:` key in a profile file: loaded with the egress schema, errors naming the file and key.

// The shipped default without its warm pool (egress profiles take none).
const defaultYaml = readFileSync(join(projectRoot, 'sandbox-profiles', 'default.yaml'), 'utf8').replace(/^pool:\n(?: .*\n?)+/m, '');
const EGRESS = `
egress:
  allow: ["pkg.example:443", "*.example.org", "bars-allowed:8080"]
  methods: [GET, HEAD]
  secrets:
    - name: NPM_TOKEN
      from_env: CAPSULE_SECRET_NPM_TOKEN
      hosts: ["pkg.example"]
`;
const parse = (text: string, allowNetwork = true) => parseProfile('pkgs', text, 'profiles/pkgs.yaml', { defaultImage: 'img', allowNetwork });
const fails = (text: string, message: RegExp) => (t: import('ava').ExecutionContext) => {
  const err = t.throws(() => parse(text), { instanceOf: ConfigurationError });
  t.regex(err!.message, /^profile profiles\/pkgs\.yaml: /);
  t.regex(err!.message, message);
};

test('the issue example parses: allow rules, methods, secrets; network stays none', (t) => {
  const p = parse(defaultYaml + EGRESS);
  t.is(p.network, 'none');
  t.true(p.enabled);
  t.deepEqual(p.egress?.allow.map((r) => [r.host, r.wildcard, r.ports]), [['pkg.example', false, [443]], ['example.org', true, [80, 443]], ['bars-allowed', false, [8080]]]);
  t.deepEqual(p.egress?.methods, ['GET', 'HEAD']);
  t.is(p.egress?.secrets[0]?.from_env, 'CAPSULE_SECRET_NPM_TOKEN');
  const info = describeProfile(p);
  t.is(info.network, 'egress proxy');
  t.deepEqual(info.egress, { allow: ['pkg.example:443', '*.example.org', 'bars-allowed:8080'], methods: ['GET', 'HEAD'], secrets: [{ name: 'NPM_TOKEN', hosts: ['pkg.example'] }] });
});

test('an egress profile is disabled with the reason unless CAPSULE_ALLOW_NETWORK_PROFILES=1', (t) => {
  const p = parse(defaultYaml + EGRESS, false);
  t.false(p.enabled);
  t.regex(p.disabledReason ?? '', /CAPSULE_ALLOW_NETWORK_PROFILES=1/);
  t.throws(() => ProfileRegistry.fromProfiles([p]).usable('pkgs'), { instanceOf: ForbiddenError });
});

test('an unknown key under egress names it', fails(defaultYaml + EGRESS.replace('methods:', 'allowed: [x]\n  methods:'), /unknown key "egress\.allowed"/));
test('an unknown key in a secret names it', fails(defaultYaml + EGRESS.replace('hosts: ["pkg.example"]', 'hosts: ["pkg.example"]\n      value: x'), /unknown key "egress\.secrets\.0\.value"/));
test('a pattern that is not a host names the entry', fails(defaultYaml + EGRESS.replace('"*.example.org"', '"https://example.org/simple"'), /egress\.allow\.1: "https:\/\/example\.org\/simple" is a URL/));
test('an IP address is not a host', fails(defaultYaml + EGRESS.replace('"bars-allowed:8080"', '"10.0.0.1:8080"'), /egress\.allow\.2: .* is an IP address/));
test('a secret without a source names it', fails(defaultYaml + EGRESS.replace('from_env: CAPSULE_SECRET_NPM_TOKEN', ''), /egress\.secrets\.0: secret NPM_TOKEN needs exactly one source/));
test('egress together with network is refused', fails(defaultYaml.replace(/^network:.*$/m, '') + 'network: capsule-egress\n' + EGRESS, /egress: cannot be combined with network: capsule-egress/));
test('an egress profile takes no warm pool', fails(defaultYaml + EGRESS + 'pool:\n  size: 2\n  max_idle_s: 60\n', /pool\.size: egress profiles take no warm pool/));
