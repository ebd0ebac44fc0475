import test from 'ava';
import { SessionLimitError } from '../../server/errors.js';
import { type SessionLimits, SessionTable } from '../../server/http/session-table.js';

function table(limits: Partial<SessionLimits> = {}) {
  let now = 1_000_000;
  const t = new SessionTable<string>({ maxSessions: 3, maxPerOwner: 2, idleMs: 60_000, maxStreamsPerSession: 2, ...limits }, () => now);
  return { t, advance: (ms: number) => (now += ms) };
}

function limitOf(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (err) {
    if (err instanceof SessionLimitError) return { ...err.details, code: err.code, status: err.httpStatus, message: err.message };
    throw err;
  }
  throw new Error('no SessionLimitError was thrown');
}

test('the per-owner cap counts open sessions and reserved slots; another owner is not blocked', (t) => {
  const { t: s } = table();
  s.reserve('alice').open('a1', 'x');
  s.reserve('alice'); // still initializing: holds a slot
  const hit = limitOf(() => s.reserve('alice'));
  t.is(hit['limit'], 'CAPSULE_OWNER_MAX_SESSIONS');
  t.is(hit['max'], 2);
  t.is(hit['code'], 'busy');
  t.is(hit['status'], 429);
  t.regex(String(hit['message']), /owner "alice" holds CAPSULE_OWNER_MAX_SESSIONS=2/);
  t.notThrows(() => s.reserve('bob'));
});

test('the global cap counts every owner', (t) => {
  const { t: s } = table();
  s.reserve('alice').open('a1', 'x');
  s.reserve('bob').open('b1', 'x');
  s.reserve('carol').open('c1', 'x');
  const hit = limitOf(() => s.reserve('dave'));
  t.is(hit['limit'], 'CAPSULE_MAX_SESSIONS');
  t.is(hit['max'], 3);
});

test('a released slot and a removed session free their place; releasing twice or after open does nothing', (t) => {
  const { t: s } = table();
  const slot = s.reserve('alice');
  slot.release();
  slot.release();
  t.is(s.heldBy('alice'), 0);
  const opened = s.reserve('alice');
  opened.open('a1', 'x');
  opened.release();
  t.is(s.heldBy('alice'), 1);
  t.is(s.size, 1);
  s.reserve('alice').open('a2', 'y');
  t.throws(() => s.reserve('alice'), { instanceOf: SessionLimitError });
  t.is(s.remove('a1'), 'x');
  t.is(s.remove('a1'), undefined);
  t.is(s.heldBy('alice'), 1);
  t.notThrows(() => s.reserve('alice'));
});

test('idle sessions expire; a request in flight keeps a session; a GET stream does not', (t) => {
  const { t: s, advance } = table({ maxPerOwner: 3 });
  s.reserve('o').open('busy', 'b');
  s.reserve('o').open('idle', 'i');
  s.reserve('o').open('streaming', 's');
  const endRequest = s.begin('busy', 'request');
  s.begin('streaming', 'stream');
  advance(60_000);
  t.deepEqual(s.expired().sort(), ['idle', 'streaming']);
  endRequest();
  t.deepEqual(s.expired().sort(), ['idle', 'streaming'], 'the end of a request counts as use');
  advance(60_000);
  t.deepEqual(s.expired().sort(), ['busy', 'idle', 'streaming']);
});

test('Retry-After is the time until the first idle session of the full cap expires and is swept', (t) => {
  const { t: s, advance } = table({ idleMs: 60_000 });
  s.reserve('alice').open('a1', 'x');
  advance(20_000);
  s.reserve('alice').open('a2', 'x');
  // a1 expires in 40 s; the sweep runs every 15 s (a quarter of the idle timeout).
  t.is(limitOf(() => s.reserve('alice'))['retry_after_s'], 55);
  t.is(s.sweepIntervalMs, 15_000);
  s.begin('a1', 'request');
  t.is(limitOf(() => s.reserve('alice'))['retry_after_s'], 75, 'a busy session is not counted as about to expire');
});

test('GET streams per session are capped and freed when they end', (t) => {
  const { t: s } = table();
  s.reserve('o').open('a', 'x');
  const first = s.begin('a', 'stream');
  s.begin('a', 'stream');
  const hit = limitOf(() => s.begin('a', 'stream'));
  t.is(hit['limit'], 'streams_per_session');
  t.is(hit['max'], 2);
  first();
  first();
  t.notThrows(() => s.begin('a', 'stream'));
  t.throws(() => s.begin('a', 'stream'), { instanceOf: SessionLimitError });
});

test('clear empties the table and frees every owner', (t) => {
  const { t: s } = table();
  s.reserve('alice').open('a1', 'x');
  s.reserve('bob').open('b1', 'y');
  t.deepEqual(s.clear().sort(), ['x', 'y']);
  t.is(s.size, 0);
  t.is(s.heldBy('alice'), 0);
});
