import { EventEmitter } from 'node:events';
import type { OutputChunk, OutputStream } from '../../runtime/container-runtime.js';

interface Entry {
  offset: number;
  stream: OutputStream;
  data: Buffer;
}

export interface LogRead {
  /** `end` is the cursor just past the chunk (an SSE event id). */
  chunks: Array<{ stream: OutputStream; data: string; end: number }>;
  next_cursor: number;
  dropped_bytes: number;
}

/** Largest prefix of `buf` of at most `max` bytes that does not split a UTF-8 character. */
export function utf8Prefix(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let end = max;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}

/**
 * A process's output as one ordered log addressed by byte offsets (cursors), keeping the most recent
 * `retainBytes`. Older output is evicted and reported as dropped; every byte is still counted.
 * Emits 'append' for readers waiting on new output (long polls, SSE).
 */
export class RetainedLog extends EventEmitter {
  private entries: Entry[] = [];
  private retained = 0;
  /** Offset of the first retained byte. */
  startOffset = 0;
  /** Offset just past the last byte ever written. */
  endOffset = 0;
  closed = false;

  constructor(private readonly retainBytes: number) {
    super();
    this.setMaxListeners(0);
  }

  append(chunk: OutputChunk): void {
    this.entries.push({ offset: this.endOffset, stream: chunk.stream, data: chunk.data });
    this.endOffset += chunk.data.length;
    this.retained += chunk.data.length;
    while (this.retained > this.retainBytes && this.entries.length > 0) {
      const first = this.entries[0]!;
      const excess = this.retained - this.retainBytes;
      if (first.data.length <= excess) {
        this.entries.shift();
        this.retained -= first.data.length;
        this.startOffset = first.offset + first.data.length;
      } else {
        this.entries[0] = { offset: first.offset + excess, stream: first.stream, data: first.data.subarray(excess) };
        this.retained -= excess;
        this.startOffset = first.offset + excess;
      }
    }
    this.emit('append');
  }

  /**
   * Every chunk from `cursor` on, as it arrives, until the log is closed: the run's output as an
   * AsyncIterable. A reader that falls behind the retained window continues at its oldest byte (the
   * skipped bytes are what `read` reports as dropped).
   */
  async *iterate(cursor = 0): AsyncGenerator<OutputChunk> {
    let next = cursor;
    for (;;) {
      next = Math.max(next, this.startOffset);
      // Found again each time: eviction and appends change the array while the reader is suspended.
      const e = this.entries[this.firstEndingAfter(next)];
      if (e) {
        yield { stream: e.stream, data: next > e.offset ? e.data.subarray(next - e.offset) : e.data };
        next = e.offset + e.data.length;
      } else if (this.closed) return;
      else await new Promise<void>((resolve) => this.once('append', resolve));
    }
  }

  /** Index of the first retained entry that ends after `offset` (binary search; entries are in order). */
  private firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.entries[mid]!;
      if (e.offset + e.data.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** No more output will come. */
  close(): void {
    this.closed = true;
    this.emit('append');
  }

  /** Output from `cursor` (default: the oldest retained byte), at most `maxBytes`, cut on character boundaries. */
  read(cursor: number | undefined, maxBytes: number): LogRead {
    let from = cursor ?? this.startOffset;
    const dropped = from < this.startOffset ? this.startOffset - from : 0;
    from = Math.max(from, this.startOffset);
    const chunks: LogRead['chunks'] = [];
    let budget = maxBytes;
    let next = Math.min(from, this.endOffset);
    for (const e of this.entries) {
      const end = e.offset + e.data.length;
      if (end <= next) continue;
      if (budget <= 0) break;
      const slice = e.data.subarray(next - e.offset);
      const take = utf8Prefix(slice, budget);
      if (take.length === 0) break;
      next += take.length;
      const last = chunks.at(-1);
      if (last && last.stream === e.stream) {
        last.data += take.toString('utf8');
        last.end = next;
      } else chunks.push({ stream: e.stream, data: take.toString('utf8'), end: next });
      budget -= take.length;
      if (take.length < slice.length) break;
    }
    return { chunks, next_cursor: next, dropped_bytes: dropped };
  }
}
