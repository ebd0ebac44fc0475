import test from 'ava';
import Database from 'better-sqlite3';
import { ContextStore } from '../../server/devtools/context-store.js';
import { InvalidInputError, NotFoundError, QuotaExceededError } from '../../server/errors.js';

const LIMITS = { maxValueBytes: 100, maxOwnerBytes: 250, maxKeysPerOwner: 4 };

function store(now = { t: Date.parse('2025-01-01T00:00:00Z') }) {
  const db = new Database(':memory:');
  return { db, now, ctx: new ContextStore(db, LIMITS, { now: () => now.t }) };
}

test('set, get, list and delete a JSON value', (t) => {
  const { ctx } = store();
  t.deepEqual(ctx.set('alice', 'plan/step-1', { done: false, files: ['a.py'] }), { key: 'plan/step-1', bytes: 31, expires_at: null });
  const entry = ctx.get('alice', 'plan/step-1');
  t.deepEqual(entry.value, { done: false, files: ['a.py'] });
  t.is(entry.updated_at, '2025-01-01T00:00:00.000Z');
  t.deepEqual(ctx.list('alice'), [{ key: 'plan/step-1', bytes: 31, updated_at: '2025-01-01T00:00:00.000Z', expires_at: null }]);
  t.true(ctx.delete('alice', 'plan/step-1'));
  t.false(ctx.delete('alice', 'plan/step-1'));
  t.throws(() => ctx.get('alice', 'plan/step-1'), { instanceOf: NotFoundError });
});

test('setting a key again replaces it', (t) => {
  const { ctx } = store();
  ctx.set('alice', 'k', 1);
  ctx.set('alice', 'k', 'two');
  t.is(ctx.get('alice', 'k').value, 'two');
  t.is(ctx.list('alice').length, 1);
});

test('owners never see each other’s keys', (t) => {
  const { ctx } = store();
  ctx.set('alice', 'shared-name', 'alice');
  ctx.set('bob', 'shared-name', 'bob');
  ctx.set('bob', 'only-bob', true);
  t.is(ctx.get('alice', 'shared-name').value, 'alice');
  t.is(ctx.get('bob', 'shared-name').value, 'bob');
  t.throws(() => ctx.get('alice', 'only-bob'), { instanceOf: NotFoundError });
  t.deepEqual(ctx.list('alice').map((k) => k.key), ['shared-name']);
  t.false(ctx.delete('alice', 'only-bob'));
  t.is(ctx.get('bob', 'only-bob').value, true);
});

test('a key with a TTL expires, reads as missing and is purged', (t) => {
  const { ctx, now } = store();
  t.is(ctx.set('alice', 'tmp', 'x', 60).expires_at, '2025-01-01T00:01:00.000Z');
  ctx.set('alice', 'keep', 'y');
  now.t += 59_000;
  t.is(ctx.get('alice', 'tmp').value, 'x');
  now.t += 1_000;
  t.throws(() => ctx.get('alice', 'tmp'), { instanceOf: NotFoundError, message: /expired/ });
  t.deepEqual(ctx.list('alice').map((k) => k.key), ['keep']);
  t.is(ctx.purgeExpired(), 1);
  t.is(ctx.purgeExpired(), 0);
});

test('keys are checked', (t) => {
  const { ctx } = store();
  for (const bad of ['', 'a b', 'x'.repeat(201), 'naïve', 'semi;colon', 'a\0b']) {
    t.throws(() => ctx.set('alice', bad, 1), { instanceOf: InvalidInputError, message: /context key/ });
  }
  t.notThrows(() => ctx.set('alice', 'A-z_0.9:/x', 1));
  t.notThrows(() => ctx.set('alice', 'x'.repeat(200), 1));
  t.throws(() => ctx.get('alice', 'a b'), { instanceOf: InvalidInputError });
});

test('values must be JSON and TTLs sane', (t) => {
  const { ctx } = store();
  t.throws(() => ctx.set('alice', 'k', undefined), { instanceOf: InvalidInputError, message: /JSON/ });
  t.throws(() => ctx.set('alice', 'k', 10n), { instanceOf: InvalidInputError, message: /JSON/ });
  const loop: Record<string, unknown> = {};
  loop.self = loop;
  t.throws(() => ctx.set('alice', 'k', loop), { instanceOf: InvalidInputError, message: /JSON/ });
  t.throws(() => ctx.set('alice', 'k', 1, 0), { instanceOf: InvalidInputError, message: /ttl_s/ });
  t.throws(() => ctx.set('alice', 'k', 1, 1.5), { instanceOf: InvalidInputError, message: /ttl_s/ });
});

test('a value over the per-value limit is refused, naming the limit', (t) => {
  const { ctx } = store();
  t.throws(() => ctx.set('alice', 'big', 'x'.repeat(99)), { instanceOf: QuotaExceededError, message: /101 bytes; the limit per value is 100 bytes \(maxValueBytes\)/ });
  t.notThrows(() => ctx.set('alice', 'ok', 'x'.repeat(98)));
});

test('an owner over the total byte limit is refused; replacing a key counts only the new size', (t) => {
  const { ctx } = store();
  ctx.set('alice', 'a', 'x'.repeat(98)); // 100 bytes
  ctx.set('alice', 'b', 'x'.repeat(98)); // 200 bytes
  t.throws(() => ctx.set('alice', 'c', 'x'.repeat(58)), { instanceOf: QuotaExceededError, message: /260 bytes; the limit is 250 bytes \(maxOwnerBytes\)/ });
  t.notThrows(() => ctx.set('alice', 'b', 'x'.repeat(98)));
  t.notThrows(() => ctx.set('bob', 'c', 'x'.repeat(98)), 'other owners have their own budget');
  ctx.delete('alice', 'a');
  t.notThrows(() => ctx.set('alice', 'c', 'x'.repeat(58)));
});

test('an owner over the key count is refused; expired keys do not count', (t) => {
  const { ctx, now } = store();
  ctx.set('alice', 'k1', 1, 10);
  for (const k of ['k2', 'k3', 'k4']) ctx.set('alice', k, 1);
  t.throws(() => ctx.set('alice', 'k5', 1), { instanceOf: QuotaExceededError, message: /4 keys; the limit is 4 \(maxKeysPerOwner\)/ });
  t.notThrows(() => ctx.set('alice', 'k4', 2), 'replacing an existing key is not a new key');
  now.t += 10_000;
  t.notThrows(() => ctx.set('alice', 'k5', 1));
});

test('the table survives a second store on the same database', (t) => {
  const { db, ctx } = store();
  ctx.set('alice', 'k', [1, 2, 3]);
  const again = new ContextStore(db, LIMITS);
  t.deepEqual(again.get('alice', 'k').value, [1, 2, 3]);
});

test('limits must be positive integers', (t) => {
  t.throws(() => new ContextStore(new Database(':memory:'), { ...LIMITS, maxKeysPerOwner: 0 }), { message: /maxKeysPerOwner/ });
});
