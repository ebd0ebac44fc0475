import type { Readable } from 'node:stream';
import type { OutputChunk } from './container-runtime.js';

const HEADER_BYTES = 8;

/**
 * Split Docker's multiplexed attach stream (non-TTY) into ordered, stream-tagged chunks.
 * Each frame is an 8-byte header [stream, 0, 0, 0, size (uint32 BE)] followed by `size` bytes.
 * dockerode's demuxStream writes into two separate streams and so loses the interleaving of
 * stdout and stderr; this keeps one ordered sequence, which notifications and logs need.
 */
export async function* demuxDockerStream(source: Readable): AsyncGenerator<OutputChunk> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const piece of source as AsyncIterable<Buffer>) {
    pending = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
    let offset = 0;
    while (pending.length - offset >= HEADER_BYTES) {
      const type = pending[offset];
      const size = pending.readUInt32BE(offset + 4);
      if (pending.length - offset - HEADER_BYTES < size) break;
      const start = offset + HEADER_BYTES;
      const data = pending.subarray(start, start + size);
      offset = start + size;
      // type 0 is stdin (never sent for attach); 1 stdout; 2 stderr. Empty frames carry nothing.
      if (size > 0 && (type === 1 || type === 2)) yield { stream: type === 1 ? 'stdout' : 'stderr', data };
    }
    pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
  }
}
