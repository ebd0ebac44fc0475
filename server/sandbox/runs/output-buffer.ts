/**
 * A bounded capture of one output stream: keeps the first half of the cap (head) and the most recent
 * half (tail), counts every byte seen, and never holds more than `maxBytes` however much is written.
 */
export class OutputBuffer {
  private headCap: number;
  private readonly tailCap: number;
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  /** Every byte written, kept or not. */
  totalBytes = 0;

  constructor(readonly maxBytes: number) {
    this.headCap = Math.ceil(maxBytes / 2);
    this.tailCap = maxBytes - this.headCap;
  }

  write(data: Buffer): void {
    this.totalBytes += data.length;
    let rest = data;
    if (this.headBytes < this.headCap) {
      const take = Math.min(this.headCap - this.headBytes, rest.length);
      this.head.push(rest.subarray(0, take));
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0 || this.tailCap === 0) return;
    if (rest.length >= this.tailCap) {
      // Copy so a huge chunk is not kept alive by a small view into it.
      this.tail = [Buffer.from(rest.subarray(rest.length - this.tailCap))];
      this.tailBytes = this.tailCap;
      return;
    }
    this.tail.push(rest);
    this.tailBytes += rest.length;
    while (this.tailBytes > this.tailCap) {
      const first = this.tail[0]!;
      const excess = this.tailBytes - this.tailCap;
      if (first.length <= excess) {
        this.tail.shift();
        this.tailBytes -= first.length;
      } else {
        this.tail[0] = first.subarray(excess);
        this.tailBytes -= excess;
      }
    }
  }

  /**
   * `bytes` were produced but dropped before reaching Capsule (the launcher's cap). They come after
   * everything kept so far, so the current tail is no longer contiguous with what follows: it counts
   * as omitted too, and the tail restarts with the next write.
   */
  skip(bytes: number): void {
    if (bytes <= 0) return;
    this.totalBytes += bytes;
    if (this.headBytes < this.headCap) {
      // Cannot happen with the launcher (it forwards at least a full cap first); keep the count honest anyway.
      this.headCap = this.headBytes;
    }
    this.tail = [];
    this.tailBytes = 0;
  }

  /** True when bytes were dropped between head and tail. */
  get truncated(): boolean {
    return this.totalBytes > this.headBytes + this.tailBytes;
  }

  get omittedBytes(): number {
    return this.totalBytes - this.headBytes - this.tailBytes;
  }

  /** The kept output as text; when truncated, a marker between head and tail says how much was omitted. */
  text(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    if (!this.truncated) return head + Buffer.concat(this.tail).toString('utf8');
    return `${head}\n[... ${this.omittedBytes} bytes omitted by Capsule ...]\n${Buffer.concat(this.tail).toString('utf8')}`;
  }
}
