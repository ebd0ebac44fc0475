import test from 'ava';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, ProfileNotFoundError } from '../../server/errors.js';
import { parseProfile, ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { projectRoot } from '../../server/version.js';

const defaultYaml = readFileSync(join(projectRoot, 'sandbox-profiles', 'default.yaml'), 'utf8');

test('the shipped default profile parses into concrete limits', (t) => {
  const registry = ProfileRegistry.load(join(projectRoot, 'sandbox-profiles'), 'img:1');
  const p = registry.get();
  t.is(p.name, 'default');
  t.is(p.image, 'img:1');
  t.is(p.memoryBytes, 512 * 1024 ** 2);
  t.is(p.timeoutDefaultMs, 30_000);
  t.is(p.outputMaxBytesPerStream, 1024 ** 2);
  t.true(p.pidsLimit > 0);
  t.true(p.ulimits.some((u) => u.name === 'nofile'));
});

test('an unknown key fails with the file and the key named', (t) => {
  const text = defaultYaml.replace('limits:\n', 'limits:\n  swap: 1g\n');
  const err = t.throws(() => parseProfile('default', text, 'profiles/default.yaml', 'img'), { instanceOf: ConfigurationError });
  t.regex(err!.message, /profiles\/default\.yaml/);
  t.regex(err!.message, /unknown key "limits\.swap"/);
});

test('a bad value fails with the file and the key named', (t) => {
  const text = defaultYaml.replace('memory: 512m', 'memory: lots');
  const err = t.throws(() => parseProfile('default', text, 'x.yaml', 'img'));
  t.regex(err!.message, /x\.yaml: limits\.memory: "lots" is not a size/);
});

test('default above max timeout is rejected', (t) => {
  const text = defaultYaml.replace('default_ms: 30000', 'default_ms: 900000');
  const err = t.throws(() => parseProfile('default', text, 'x.yaml', 'img'));
  t.regex(err!.message, /timeout/);
});

test('an output cap the launcher cannot hold is rejected, naming the key', (t) => {
  const text = defaultYaml.replace('max_bytes_per_stream: 1m', 'max_bytes_per_stream: 1g');
  const err = t.throws(() => parseProfile('default', text, 'x.yaml', 'img'));
  t.regex(err!.message, /x\.yaml: output\.max_bytes_per_stream: output\.max_bytes_per_stream must be from 1 KiB to 256 MiB/);
});

test('a folder without default.yaml is a start-up error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-profiles-'));
  writeFileSync(join(dir, 'other.yaml'), defaultYaml);
  t.throws(() => ProfileRegistry.load(dir, 'img'), { message: /no default\.yaml/ });
});

test('an unknown profile name lists the known ones', (t) => {
  const registry = ProfileRegistry.load(join(projectRoot, 'sandbox-profiles'), 'img');
  const err = t.throws(() => registry.get('nope'), { instanceOf: ProfileNotFoundError });
  t.regex(err!.message, /unknown profile "nope"; available: .*default/);
});
