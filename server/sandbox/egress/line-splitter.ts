/** The longest line kept whole; the access log's lines are a few hundred bytes. */
const MAX_LINE = 64 * 1024;

/**
 * Chunks of a stream into complete lines. A line longer than MAX_LINE is cut there (the rest of it is
 * dropped), so a stream without newlines cannot grow the buffer without bound.
 */
export class LineSplitter {
  private partial = '';
  private skipping = false;

  /** The lines this chunk completes. */
  push(data: Buffer): string[] {
    const text = this.partial + data.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    const lines: string[] = [];
    for (const part of parts) {
      if (!this.skipping) lines.push(part);
      this.skipping = false;
    }
    if (this.partial.length > MAX_LINE) {
      if (!this.skipping) lines.push(this.partial.slice(0, MAX_LINE));
      this.partial = '';
      this.skipping = true;
    }
    return lines;
  }
}
