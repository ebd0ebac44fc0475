import test from 'ava';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { approximateJsonBytes, BoundedEventStore } from '../../server/http/bounded-event-store.js';

const note = (data: string): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data } });

async function replay(store: BoundedEventStore, after: string) {
  const seen: string[] = [];
  const stream = await store.replayEventsAfter(after, { send: async (id) => void seen.push(id) });
  return { stream, seen };
}

test('replays the events after an id on the same stream only', async (t) => {
  const store = new BoundedEventStore();
  const a1 = await store.storeEvent('a', note('1'));
  await store.storeEvent('b', note('x'));
  const a2 = await store.storeEvent('a', note('2'));
  const a3 = await store.storeEvent('a', note('3'));
  t.deepEqual(await replay(store, a1), { stream: 'a', seen: [a2, a3] });
  t.is(await store.getStreamIdForEventId(a2), 'a');
  t.deepEqual(await replay(store, 'unknown'), { stream: '', seen: [] });
});

test('drops the oldest events past the event bound', async (t) => {
  const store = new BoundedEventStore(3, 1 << 20);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(await store.storeEvent('s', note(String(i))));
  t.is(await store.getStreamIdForEventId(ids[1]!), undefined);
  t.is(await store.getStreamIdForEventId(ids[2]!), 's');
  t.deepEqual((await replay(store, ids[2]!)).seen, [ids[3], ids[4]]);
});

test('drops the oldest events past the byte bound', async (t) => {
  const store = new BoundedEventStore(1000, 10_000);
  const big = await store.storeEvent('s', note('x'.repeat(6_000)));
  const next = await store.storeEvent('s', note('y'.repeat(6_000)));
  t.is(await store.getStreamIdForEventId(big), undefined, 'the first 6 kB went when the second arrived');
  t.is(await store.getStreamIdForEventId(next), 's');
});

test('the size estimate follows the strings a message holds', (t) => {
  const small = approximateJsonBytes(note('a'));
  const large = approximateJsonBytes(note('a'.repeat(100_000)));
  t.true(large - small >= 99_999 && large - small <= 100_001);
  t.true(Math.abs(small - JSON.stringify(note('a')).length) < 40);
});
