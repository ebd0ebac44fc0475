import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema, loadConfig } from '../../server/config.js';
import { projectRoot } from '../../server/version.js';

test('defaults are safe: loopback bind, port 8080', (t) => {
  const c = loadConfig({});
  t.is(c.CAPSULE_HOST, '127.0.0.1');
  t.is(c.CAPSULE_PORT, 8080);
});

test('a bad value names the key', (t) => {
  t.throws(() => loadConfig({ CAPSULE_PORT: 'eighty' }), { message: /CAPSULE_PORT/ });
  t.throws(() => loadConfig({ CAPSULE_LOG_LEVEL: 'loud' }), { message: /CAPSULE_LOG_LEVEL/ });
});

test('the README documents every CAPSULE_* setting', (t) => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const missing = Object.keys(configSchema.shape).filter((key) => !readme.includes(`\`${key}\``));
  t.deepEqual(missing, []);
});

test('session caps and idle timeout: defaults, durations, and a too-short timeout named', (t) => {
  const c = loadConfig({});
  t.is(c.CAPSULE_MAX_SESSIONS, 1000);
  t.is(c.CAPSULE_OWNER_MAX_SESSIONS, 100);
  t.is(c.CAPSULE_SESSION_IDLE_TIMEOUT, 30 * 60_000);
  t.is(loadConfig({ CAPSULE_SESSION_IDLE_TIMEOUT: '90s' }).CAPSULE_SESSION_IDLE_TIMEOUT, 90_000);
  t.throws(() => loadConfig({ CAPSULE_SESSION_IDLE_TIMEOUT: '0' }), { message: /CAPSULE_SESSION_IDLE_TIMEOUT: must be at least 1s/ });
  t.throws(() => loadConfig({ CAPSULE_MAX_SESSIONS: '0' }), { message: /CAPSULE_MAX_SESSIONS/ });
});

test('admin owners and the trace URL template: parsed, and bad values named', (t) => {
  t.deepEqual(loadConfig({}).CAPSULE_ADMIN_OWNERS, []);
  t.deepEqual(loadConfig({ CAPSULE_ADMIN_OWNERS: ' ops, alice ,' }).CAPSULE_ADMIN_OWNERS, ['ops', 'alice']);
  t.throws(() => loadConfig({ CAPSULE_ADMIN_OWNERS: 'ops,bad name' }), { message: /CAPSULE_ADMIN_OWNERS: "bad name" is not an owner name/ });
  t.is(loadConfig({ CAPSULE_TRACE_URL_TEMPLATE: 'http://127.0.0.1:16686/trace/{trace_id}' }).CAPSULE_TRACE_URL_TEMPLATE, 'http://127.0.0.1:16686/trace/{trace_id}');
  t.throws(() => loadConfig({ CAPSULE_TRACE_URL_TEMPLATE: 'http://127.0.0.1:16686/trace/' }), { message: /CAPSULE_TRACE_URL_TEMPLATE: must contain \{trace_id\}/ });
  t.throws(() => loadConfig({ CAPSULE_TRACE_URL_TEMPLATE: 'javascript:alert({trace_id})' }), { message: /CAPSULE_TRACE_URL_TEMPLATE: must be an http\(s\) URL/ });
});
