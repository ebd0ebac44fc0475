import type { Readable } from 'node:stream';
import { extract, type Header as Headers } from 'tar-stream';

export interface TarEntry {
  header: Headers;
  /** The entry's data; must be consumed (or resumed) before the next entry arrives. */
  stream: Readable;
}

/**
 * Iterate the entries of a tar stream without buffering it. Stopping early (break/return) destroys
 * the source, so a capped read never pulls the rest of an archive from the engine.
 */
export async function* tarEntries(source: Readable): AsyncGenerator<TarEntry> {
  const ex = extract();
  source.on('error', (err) => ex.destroy(err));
  source.pipe(ex as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of ex as unknown as AsyncIterable<Readable & { header: Headers }>) {
      yield { header: entry.header, stream: entry };
      entry.resume();
    }
  } finally {
    source.unpipe(ex as unknown as NodeJS.WritableStream);
    source.destroy();
    ex.destroy();
  }
}

/** Read at most `max` bytes starting at `offset` of an entry's data; stops pulling at the cap. */
export async function readRange(stream: Readable, offset: number, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let seen = 0;
  let kept = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const start = Math.max(0, offset - seen);
    seen += chunk.length;
    if (start >= chunk.length) continue;
    const piece = chunk.subarray(start, start + (max - kept));
    parts.push(piece);
    kept += piece.length;
    if (kept >= max) break;
  }
  return Buffer.concat(parts);
}
