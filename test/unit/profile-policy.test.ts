import test from 'ava';
import { ConfigurationError, PolicyDeniedError } from '../../server/errors.js';
import { compilePolicy, enforcePolicy, nestedQuantifier, policyFileSchema } from '../../server/sandbox/profiles/profile-policy.js';
import { parseProfile } from '../../server/sandbox/profiles/profiles.js';

const BASE = 'description: d\nlimits: {memory: 64m, cpus: 1, pids: 64}\ntimeout: {default_ms: 1000, max_ms: 2000}\noutput: {max_bytes_per_stream: 1k}\ntmpfs: {tmp: 1m, workspace: 1m}\nulimits: {nofile: 64, nproc: 64}\n';
const policy = (file: object) => compilePolicy(policyFileSchema.parse(file));

test('an invalid or nested pattern stops start-up, naming the file and the key', (t) => {
  const bad = (yaml: string) => t.throws(() => parseProfile('p', BASE + yaml, '/etc/capsule/p.yaml', 'img'), { instanceOf: ConfigurationError })!.message;
  t.regex(bad('policy:\n  deny: ["a(b"]\n'), /^profile \/etc\/capsule\/p\.yaml: policy\.deny\.0: invalid regular expression "a\(b"/);
  t.regex(bad('policy:\n  allow: ["ok", "/[z-a]/i"]\n'), /policy\.allow\.1: invalid regular expression "\/\[z-a\]\/i"/);
  t.regex(bad('policy:\n  deny: ["ok", "(a+)+$"]\n'), /policy\.deny\.1: "\(a\+\)\+\$" quantifies a group that holds an unbounded quantifier/);
  t.regex(bad('policy:\n  deny: []\n  block: ["x"]\n'), /: unknown key "policy\.block"$/);
  const p = parseProfile('p', `${BASE}policy:\n  deny: ['\\brm\\b', '/^SUDO/i']\n`, '/etc/capsule/p.yaml', 'img');
  t.deepEqual(p.policy?.deny.map((r) => r.text), ['\\brm\\b', '/^SUDO/i']);
  t.is(p.policy?.allow, null);
});

test('nested quantifiers are found; bounded or unquantified groups pass', (t) => {
  for (const s of ['(a+)+', '(\\w*\\s?)*', '(?:x(y+))+', '((a)*){2,}']) t.not(nestedQuantifier(s), null, s);
  for (const s of ['(ab)+', '(a+)?', '[(a+)]+', '\\(a+\\)+', '^(echo|print)\\b', '(a{2})+']) t.is(nestedQuantifier(s), null, s);
});

test('deny first, then allow; an empty allow list refuses everything; the text is never echoed', (t) => {
  const p = policy({ deny: ['\\brm\\s+-rf\\b', '/CURL/i'], allow: ['^echo\\b', '^rm\\b'] });
  t.notThrows(() => enforcePolicy(p, 'ops', 'command', 'echo hello'));
  const denied = t.throws(() => enforcePolicy(p, 'ops', 'command', 'rm -rf /secret-path'), { instanceOf: PolicyDeniedError })!;
  t.is(denied.message, 'deny rule "\\\\brm\\\\s+-rf\\\\b" of profile "ops" matched the command');
  t.notRegex(denied.message, /secret-path/);
  t.regex(t.throws(() => enforcePolicy(p, 'ops', 'code', 'echo $(curl x)'))!.message, /deny rule "\/CURL\/i" .* matched the code/);
  t.regex(t.throws(() => enforcePolicy(p, 'ops', 'command', 'ls'))!.message, /^no allow rule of profile "ops" matched the command \(allowed: "\^echo\\\\b", "\^rm\\\\b"\)/);
  t.regex(t.throws(() => enforcePolicy(policy({ allow: [] }), 'locked', 'code', 'print(1)'))!.message, /allowed: nothing/);
  t.notThrows(() => enforcePolicy(undefined, 'none', 'command', 'rm -rf /'), 'no policy: nothing refused');
});

test('input over max_input_bytes is refused unmatched', (t) => {
  const p = policy({ deny: ['x'], max_input_bytes: 8 });
  t.regex(t.throws(() => enforcePolicy(p, 'ops', 'command', 'echo 123456'), { instanceOf: PolicyDeniedError })!.message, /the command is 11 bytes, over the 8 bytes .*policy\.max_input_bytes/);
  t.notThrows(() => enforcePolicy(p, 'ops', 'command', 'echo 12'));
});
