import type { Readable } from 'node:stream';
import type { OutputChunk } from '../container-runtime.js';
import { readFrames } from '../frames.js';

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
