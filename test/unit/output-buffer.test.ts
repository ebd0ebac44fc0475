import test from 'ava';
import { OutputBuffer } from '../../server/sandbox/runs/output-buffer.js';

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

/** What the launcher does with an output cap: forward `cap` bytes, drop the middle, send the last cap - ceil(cap/2). */
function throughLauncher(data: Buffer, cap: number): OutputBuffer {
  const b = new OutputBuffer(cap);
  const tailCap = cap - Math.ceil(cap / 2);
  if (data.length <= cap + tailCap) {
    b.write(data);
    return b;
  }
  b.write(data.subarray(0, cap));
  b.skip(data.length - cap - tailCap);
  b.write(data.subarray(data.length - tailCap));
  return b;
}

test('bytes the launcher skipped give the same result as forwarding them all', (t) => {
  for (const cap of [1, 7, 10, 11, 1000]) {
    for (const size of [0, 5, cap, cap + 1, Math.floor(1.5 * cap), 2 * cap, 2 * cap + 1, 10 * cap + 3]) {
      const data = Buffer.from(Array.from({ length: size }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join(''));
      const full = new OutputBuffer(cap);
      for (let i = 0; i < data.length; i += 3) full.write(data.subarray(i, i + 3));
      const skipped = throughLauncher(data, cap);
      t.is(skipped.text(), full.text(), `cap ${cap}, size ${size}`);
      t.is(skipped.totalBytes, size);
      t.is(skipped.truncated, full.truncated);
      t.is(skipped.omittedBytes, full.omittedBytes);
    }
  }
});

test('a skip drops the tail kept so far: it is not contiguous with what follows', (t) => {
  const b = new OutputBuffer(10);
  b.write(Buffer.from('0123456789ab'));
  b.skip(100);
  b.write(Buffer.from('XY'));
  t.is(b.totalBytes, 114);
  t.is(b.omittedBytes, 107);
  t.is(b.text(), '01234\n[... 107 bytes omitted by Capsule ...]\nXY');
});
