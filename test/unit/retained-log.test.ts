import test from 'ava';
import { RetainedLog, utf8Prefix } from '../../server/sandbox/runs/retained-log.js';

const out = (s: string) => ({ stream: 'stdout' as const, data: Buffer.from(s) });

test('reads every byte once, in order, by cursor', (t) => {
  const log = new RetainedLog(1000);
  log.append(out('one\n'));
  log.append({ stream: 'stderr', data: Buffer.from('warn\n') });
  log.append(out('two\n'));
  const first = log.read(undefined, 6);
  t.deepEqual(first.chunks.map((c) => [c.stream, c.data]), [['stdout', 'one\n'], ['stderr', 'wa']]);
  const second = log.read(first.next_cursor, 100);
  t.deepEqual(second.chunks.map((c) => c.data), ['rn\n', 'two\n']);
  t.is(second.next_cursor, 13);
  t.is(log.read(second.next_cursor, 100).chunks.length, 0);
});

test('evicts old output past the retention cap and reports dropped bytes', (t) => {
  const log = new RetainedLog(10);
  for (let i = 0; i < 10; i++) log.append(out(`${i}abc\n`)); // 5 bytes each, 50 in all
  t.is(log.startOffset, 40);
  const r = log.read(0, 100);
  t.is(r.dropped_bytes, 40);
  t.is(r.chunks.map((c) => c.data).join(''), '8abc\n9abc\n');
  t.is(r.next_cursor, 50);
});

test('never splits a UTF-8 character', (t) => {
  const euro = Buffer.from('€€'); // 3 bytes each
  t.is(utf8Prefix(euro, 4).length, 3);
  const log = new RetainedLog(100);
  log.append({ stream: 'stdout', data: euro });
  const r = log.read(0, 4);
  t.is(r.chunks[0]!.data, '€');
  t.is(r.next_cursor, 3);
  t.is(log.read(r.next_cursor, 4).chunks[0]!.data, '€');
});
