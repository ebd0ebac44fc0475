import test from 'ava';
import { getEventListeners } from 'node:events';
import { linkSignals } from '../../server/sandbox/runs/linked-signal.js';

test('aborts with the first source reason, and leaves no listener on a long-lived source', (t) => {
  const shutdown = new AbortController();
  for (let i = 0; i < 50; i++) {
    const client = new AbortController();
    const { signal, unlink } = linkSignals([client.signal, shutdown.signal]);
    if (i === 0) {
      client.abort(new Error('client gone'));
      t.true(signal.aborted);
      t.is((signal.reason as Error).message, 'client gone');
    }
    unlink();
  }
  t.is(getEventListeners(shutdown.signal, 'abort').length, 0, 'each run unlinked from the server-long signal');
});

test('an already aborted source aborts at once; undefined sources are skipped', (t) => {
  const gone = new AbortController();
  gone.abort(new Error('shutting down'));
  const { signal } = linkSignals([undefined, gone.signal]);
  t.true(signal.aborted);
  t.is((signal.reason as Error).message, 'shutting down');
});
