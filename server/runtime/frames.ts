const HEADER_BYTES = 8;

/** One frame of the [type, 0, 0, 0, size (uint32 BE)] + payload format. */
export interface Frame {
  type: number;
  data: Buffer;
}

/**
 * Split a byte stream of [type:1][0][0][0][size:4 BE][payload] frames. Two protocols share this shape:
 * Docker's attach multiplexing (non-TTY) and the frames of Capsule's in-container launcher
 * (images/sandbox/capsule-launch.c). Frames may straddle reads.
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
