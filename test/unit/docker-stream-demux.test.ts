import test from 'ava';
import { Readable } from 'node:stream';
import { demuxDockerStream } from '../../server/runtime/docker/docker-stream-demux.js';

function frame(type: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

test('splits frames in order, even when split across reads', async (t) => {
  const all = Buffer.concat([frame(1, 'out1'), frame(2, 'err1'), frame(1, 'out2'), frame(1, '')]);
  // Cut into 3-byte pieces so headers and payloads straddle reads.
  const pieces: Buffer[] = [];
  for (let i = 0; i < all.length; i += 3) pieces.push(all.subarray(i, i + 3));
  const seen: string[] = [];
  for await (const chunk of demuxDockerStream(Readable.from(pieces))) seen.push(`${chunk.stream}:${chunk.data.toString()}`);
  t.deepEqual(seen, ['stdout:out1', 'stderr:err1', 'stdout:out2']);
});
