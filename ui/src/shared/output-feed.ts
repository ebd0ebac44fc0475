export type Stream = 'stdout' | 'stderr';

/** What the server writes between the head and tail of capped output (server/sandbox/output-buffer.ts). */
const OMITTED = /\n\[\.\.\. (\d+) bytes omitted by Capsule \.\.\.\]\n/;

/** Text kept per pane: past it the oldest text leaves the page (the server still has it). */
const MAX_CHARS = 4 << 20;

/**
 * The output panes of a run, written to directly: live output arrives in many small chunks, and
 * appending text nodes keeps each one O(chunk) where re-rendering the whole text would be O(total).
 */
export class OutputFeed {
  private readonly panes: Record<Stream, HTMLPreElement | null> = { stdout: null, stderr: null };
  private readonly chars: Record<Stream, number> = { stdout: 0, stderr: 0 };
  /** What arrived before the pane was on the page (counted already). */
  private readonly early: Array<{ stream: Stream; node: () => Node }> = [];
  /** Bytes the server said it dropped (retention cap), over the whole stream. */
  droppedBytes = 0;
  onChange: (() => void) | null = null;

  attach(stream: Stream, el: HTMLPreElement | null): void {
    this.panes[stream] = el;
    if (!el) return;
    if (el.childNodes.length > 0) return; // the same pane again (a re-render)
    for (const item of this.early.filter((e) => e.stream === stream)) el.append(item.node());
    this.early.splice(0, this.early.length, ...this.early.filter((e) => e.stream !== stream));
  }

  /** Live output. */
  append(stream: Stream, text: string): void {
    if (text) this.put(stream, () => document.createTextNode(text), text.length);
  }

  /** Output the server no longer had when this page asked (older than its retention). */
  dropped(bytes: number): void {
    this.droppedBytes += bytes;
    this.put('stdout', () => marker(`[… ${bytes} bytes of earlier output dropped by the server's retention cap (CAPSULE_PROCESS_RETAIN_BYTES) …]`));
  }

  /** Replace everything with a finished result's text, its omission markers shown as markers. */
  setText(stdout: string, stderr: string): void {
    this.clear();
    for (const [stream, text] of [['stdout', stdout], ['stderr', stderr]] as const) {
      const parts = text.split(OMITTED);
      parts.forEach((part, i) => {
        if (i % 2 === 1) this.put(stream, () => marker(`[… ${part} bytes omitted from the middle: over the profile's output cap …]`));
        else this.append(stream, part);
      });
    }
  }

  clear(): void {
    this.early.length = 0;
    this.droppedBytes = 0;
    for (const stream of ['stdout', 'stderr'] as const) {
      this.panes[stream]?.replaceChildren();
      this.chars[stream] = 0;
    }
    this.onChange?.();
  }

  /** Characters shown in a pane (tests and the "empty" hint). */
  size(stream: Stream): number {
    return this.chars[stream];
  }

  private put(stream: Stream, node: () => Node, chars = 0): void {
    const el = this.panes[stream];
    this.chars[stream] += chars;
    if (!el) {
      this.early.push({ stream, node });
      return;
    }
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
    el.append(node());
    while (this.chars[stream] > MAX_CHARS && el.firstChild) {
      this.chars[stream] -= el.firstChild.textContent?.length ?? 0;
      el.firstChild.remove();
    }
    if (atBottom) el.scrollTop = el.scrollHeight;
    this.onChange?.();
  }
}

function marker(text: string): Node {
  const span = document.createElement('span');
  span.className = 'marker';
  span.textContent = `\n${text}\n`;
  return span;
}
