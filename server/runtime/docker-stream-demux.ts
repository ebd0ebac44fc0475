import type { Readable } from 'node:stream';
import type { OutputChunk } from './container-runtime.js';

const HEADER_BYTES = 8;

/** One frame of the [type, 0, 0, 0, size (uint32 BE)] + payload format. */
export interface Frame {
  type: number;
  data: Buffer;
}

/**
 * Split a byte stream of [type:1][0][0][0][size:4 BE][payload] frames: Docker's attach multiplexing
 * (non-TTY), and the same shape Capsule's in-container launcher uses. Frames may straddle reads.
 */
export async function* readFrames(source: AsyncIterable<Buffer>): AsyncGenerator<Frame> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const piece of source) {
    pending = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
    let offset = 0;
    while (pending.length - offset >= HEADER_BYTES) {
      const type = pending[offset]!;
      const size = pending.readUInt32BE(offset + 4);
      if (pending.length - offset - HEADER_BYTES < size) break;
      const start = offset + HEADER_BYTES;
      yield { type, data: pending.subarray(start, start + size) };
      offset = start + size;
    }
    pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
  }
}

/**
 * Docker's attach stream as ordered, stream-tagged chunks. dockerode's demuxStream writes into two
 * separate streams and so loses the interleaving of stdout and stderr; this keeps one ordered sequence.
 */
export async function* demuxDockerStream(source: Readable): AsyncGenerator<OutputChunk> {
  for await (const { type, data } of readFrames(source as AsyncIterable<Buffer>)) {
    // type 0 is stdin (never sent for attach); 1 stdout; 2 stderr. Empty frames carry nothing.
    if (data.length > 0 && (type === 1 || type === 2)) yield { stream: type === 1 ? 'stdout' : 'stderr', data };
  }
}
