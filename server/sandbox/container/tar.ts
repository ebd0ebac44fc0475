import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, type Header as Headers, pack } from 'tar-stream';

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

/** One entry to write: a file (from a buffer, or a stream of known size), a folder or a link. */
export type TarWrite =
  | { type: 'file'; name: string; mode: number; uid: number; gid: number; content: Buffer }
  | { type: 'file'; name: string; mode: number; uid: number; gid: number; size: number; stream: Readable }
  | { type: 'directory'; name: string; mode: number; uid: number; gid: number }
  | { type: 'symlink' | 'link'; name: string; linkname: string; uid: number; gid: number };

/**
 * The one tar writer: entries go in one at a time (a streamed file's data is piped before the next
 * entry starts), `readable` is what the engine's archive API or a spool file takes. Ownership comes
 * from each entry (the engine keeps tar headers' uid/gid).
 */
export class TarWriter {
  private readonly archive = pack();
  /** tar-stream packs are streamx streams; this is the Node Readable the runtime takes. */
  readonly readable: Readable = Readable.from(this.archive as unknown as AsyncIterable<Buffer>);

  async add(entry: TarWrite): Promise<void> {
    if ('linkname' in entry) {
      this.archive.entry({ name: entry.name, type: entry.type, linkname: entry.linkname, uid: entry.uid, gid: entry.gid });
    } else if (entry.type === 'directory') {
      this.archive.entry({ name: entry.name, type: 'directory', mode: entry.mode, uid: entry.uid, gid: entry.gid });
    } else if ('content' in entry) {
      this.archive.entry({ name: entry.name, type: 'file', mode: entry.mode, uid: entry.uid, gid: entry.gid }, entry.content);
    } else {
      const sink = this.archive.entry({ name: entry.name, type: 'file', size: entry.size, mode: entry.mode, uid: entry.uid, gid: entry.gid });
      await pipeline(entry.stream, sink as unknown as NodeJS.WritableStream);
    }
  }

  finish(): void {
    this.archive.finalize();
  }

  fail(err: Error): void {
    this.archive.destroy(err);
  }
}

/** A tar of `entries`, written as the reader pulls; a failing stream entry fails the tar. */
export function packTar(entries: TarWrite[]): Readable {
  const writer = new TarWriter();
  void (async () => {
    for (const entry of entries) await writer.add(entry);
    writer.finish();
  })().catch((err: Error) => writer.fail(err));
  return writer.readable;
}
