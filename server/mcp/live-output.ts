import { StringDecoder } from 'node:string_decoder';
import type { LoggingLevel, ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import type { OutputChunk, OutputStream } from '../runtime/container-runtime.js';
import type { SessionLogLevel } from './session-log-level.js';

export interface LiveOutputOptions {
  /** The request's notification sender (keeps notifications on the request's stream, before its result). */
  send: (notification: ServerNotification) => Promise<void>;
  /** Present when the client asked for progress (`_meta.progressToken`). */
  progressToken?: string | number;
  level: SessionLogLevel;
  /** Live output stops after this many bytes per stream (the result's cap); a marker says so. */
  maxBytesPerStream: number;
  /** Shortest time between two flushes: 50 ms = at most 20 batches per second. */
  intervalMs?: number;
}

const LEVEL: Record<OutputStream, LoggingLevel> = { stdout: 'info', stderr: 'warning' };

/**
 * Streams a run's output to the client while it runs: `notifications/message` (logger stdout/stderr)
 * and, when asked for, `notifications/progress`. Chunks are batched to a bounded rate without losing
 * bytes (up to the per-stream cap), decoded on UTF-8 character boundaries.
 */
export class LiveOutput {
  private readonly pending: Record<OutputStream, string> = { stdout: '', stderr: '' };
  private readonly sent: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  private readonly capped: Record<OutputStream, boolean> = { stdout: false, stderr: false };
  private readonly decoders: Record<OutputStream, StringDecoder> = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  private totalBytes = 0;
  private lastLine = '';
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: LiveOutputOptions) {}

  /** Feed one chunk (the runner's onOutput). */
  push = (chunk: OutputChunk): void => {
    const { stream } = chunk;
    this.totalBytes += chunk.data.length;
    if (this.capped[stream]) return;
    const room = this.options.maxBytesPerStream - this.sent[stream];
    const data = chunk.data.length > room ? chunk.data.subarray(0, room) : chunk.data;
    this.sent[stream] += data.length;
    this.pending[stream] += this.decoders[stream].write(data);
    if (chunk.data.length > room) {
      this.capped[stream] = true;
      this.pending[stream] += `${this.decoders[stream].end()}\n[live ${stream} stopped at ${this.options.maxBytesPerStream} bytes; the result keeps head and tail]\n`;
    }
    this.schedule();
  };

  /** Feed every chunk of `output` until it ends (a run handle's output). */
  async follow(output: AsyncIterable<OutputChunk>): Promise<void> {
    for await (const chunk of output) this.push(chunk);
  }

  /** Send whatever is pending; resolves when every notification has been handed to the transport. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const stream of ['stdout', 'stderr'] as const) if (!this.capped[stream]) this.pending[stream] += this.decoders[stream].end();
    this.flush();
    await this.chain;
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.options.intervalMs ?? 50);
  }

  private flush(): void {
    const notifications: ServerNotification[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const data = this.pending[stream];
      if (!data) continue;
      this.pending[stream] = '';
      const lines = data.split('\n').filter((l) => l.length > 0);
      if (lines.length) this.lastLine = lines.at(-1)!.slice(0, 200);
      if (!this.options.level.ignores(LEVEL[stream])) {
        notifications.push({ method: 'notifications/message', params: { level: LEVEL[stream], logger: stream, data } });
      }
    }
    if (notifications.length && this.options.progressToken !== undefined) {
      notifications.push({
        method: 'notifications/progress',
        params: { progressToken: this.options.progressToken, progress: this.totalBytes, message: this.lastLine },
      });
    }
    if (!notifications.length) return;
    // One chain keeps notifications in order; a failed send (client gone) never breaks the run.
    this.chain = this.chain.then(async () => {
      for (const n of notifications) await this.options.send(n).catch(() => undefined);
    });
  }
}
