import test from 'ava';
import { OutputBuffer } from '../../server/sandbox/output-buffer.js';

test('keeps everything under the cap', (t) => {
  const b = new OutputBuffer(100);
  b.write(Buffer.from('hello '));
  b.write(Buffer.from('world'));
  t.is(b.text(), 'hello world');
  t.is(b.totalBytes, 11);
  t.false(b.truncated);
});

test('keeps head and tail and counts every byte when over the cap', (t) => {
  const b = new OutputBuffer(10);
  for (let i = 0; i < 100; i++) b.write(Buffer.from(String(i % 10)));
  t.is(b.totalBytes, 100);
  t.true(b.truncated);
  t.is(b.omittedBytes, 90);
  const text = b.text();
  t.true(text.startsWith('01234'));
  t.true(text.endsWith('56789'));
  t.regex(text, /90 bytes omitted/);
});

test('a single huge chunk is bounded', (t) => {
  const b = new OutputBuffer(1000);
  b.write(Buffer.alloc(10_000_000, 'x'));
  b.write(Buffer.from('END'));
  t.is(b.totalBytes, 10_000_003);
  const text = b.text();
  t.true(text.length < 1100);
  t.true(text.endsWith('xxEND'));
});

test('exactly at the cap is not truncated', (t) => {
  const b = new OutputBuffer(8);
  b.write(Buffer.from('abcd'));
  b.write(Buffer.from('efgh'));
  t.false(b.truncated);
  t.is(b.text(), 'abcdefgh');
});
