import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { InvalidInputError, RuntimeFailureError } from '../../errors.js';
import type { AttachedIo, ContainerRuntime, OutputChunk } from '../../runtime/container-runtime.js';
import { withSpan } from '../../telemetry/tracing.js';
import { launcherEvents } from '../container/launcher-protocol.js';
import type { ContainerRun } from './container-run.js';
import { RetainedLog } from './retained-log.js';
import type { RunHandle } from './run-handle.js';
import { asCancellation, describeAbort, describeMidRunFailure, describeOutsideStop } from './run-interruption.js';
import { type EndReason, RunOutcome } from './run-outcome.js';
import { type RunResult, signalName } from './run-result.js';
import { type RunStats, toRunStats } from './run-stats.js';

/** What a live run needs besides its container. */
export interface LiveRunOptions {
  runtime: ContainerRuntime;
  log: Logger;
  /** Client cancellation and server shutdown; the wall timeout is added here. */
  signal: AbortSignal;
  /** Keep stdin open after the initial data (interactive processes). */
  stdinOpen: boolean;
  /** Bytes of output the run's log keeps for readers (cursors, SSE, the output iterable). */
  retainBytes: number;
  /** After the program ended, before the container is removed: collected files, usage, tool outputs. */
  afterExit: ((containerId: string) => Promise<{ extra: Partial<RunResult>; outputs: Map<string, Buffer> }>) | null;
  /** What follows the result before wait() resolves: records, container removal, releasing the slot. */
  settle: (result: RunResult) => Promise<void>;
  /** An egress run's traffic, asked for once the program has ended (never rejects): the result's `network`. */
  network?: () => Promise<NonNullable<RunResult['network']>>;
  /** The engine's name, when there are several: a run its engine cut short names it. */
  engine?: string;
}

/**
 * A run whose container has started: it reads the launcher's frames into the bounded result buffers
 * and the run's log, enforces the wall timeout, and reports how the run ended. Made by `begin`, which
 * throws (and starts nothing more) when the container cannot start.
 */
export class LiveRun implements RunHandle {
  readonly log: RetainedLog;
  stats: RunStats | null = null;
  private readonly outcome: RunOutcome;
  private readonly stdin: Writable | null;
  private readonly finished: Promise<RunResult>;
  private collected = new Map<string, Buffer>();
  private ended = false;
  /** Set when the run's engine was marked down: the run ends failed with this, without asking the engine. */
  private lostWith: Error | null = null;
  private readonly lostSignal = new AbortController();
  private timers: Array<NodeJS.Timeout | undefined> = [];

  private constructor(
    private readonly container: ContainerRun,
    private readonly io: AttachedIo,
    private readonly options: LiveRunOptions,
  ) {
    this.outcome = new RunOutcome(container.job);
    this.log = new RetainedLog(options.retainBytes);
    this.stdin = this.feedStdin(io.stdin);
    this.timers.push(setTimeout(() => this.stop({ kind: 'timeout' }), container.job.timeoutMs));
    options.signal.addEventListener('abort', this.onAbort, { once: true });
    if (options.signal.aborted) this.onAbort();
    this.finished = this.lifecycle().then(async (result) => {
      await options.settle(result);
      return result;
    });
  }

  /** Start the container's program; once it runs, the handle. Throws (nothing started) when it cannot. */
  static async begin(container: ContainerRun, options: LiveRunOptions): Promise<LiveRun> {
    if (options.signal.aborted) throw asCancellation(options.signal.reason);
    return new LiveRun(container, await container.begin(), options);
  }

  get runId(): string {
    return this.container.job.runId;
  }

  get profile(): string {
    return this.container.job.profile.name;
  }

  get owner(): string {
    return this.container.job.owner;
  }

  get display(): string {
    return this.container.job.display;
  }

  get output(): AsyncIterable<OutputChunk> {
    return this.log.iterate(0);
  }

  wait(): Promise<RunResult> {
    return this.finished;
  }

  outputs(): ReadonlyMap<string, Buffer> {
    return this.collected;
  }

  kill(why: Error): Promise<RunResult> {
    this.stop({ kind: 'cancelled', why: describeAbort(why) });
    return this.finished;
  }

  /** Its engine stopped answering (marked down): end the run now as failed with `why` (its engine named). */
  lost(why: Error): void {
    if (this.ended || this.lostWith) return;
    this.lostWith = why;
    this.lostSignal.abort(why);
    this.io.destroy();
  }

  signal(name: string): Promise<void> {
    return this.container.signal(name);
  }

  writeStdin(data: Buffer): Promise<void> {
    const { stdin } = this;
    return new Promise<void>((resolve, reject) => {
      if (!stdin || stdin.writableEnded || stdin.destroyed) return reject(new InvalidInputError('stdin is not open for this process'));
      stdin.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  closeStdin(): void {
    if (this.stdin && !this.stdin.writableEnded) this.stdin.end();
  }

  /** Ends the run if it still runs, and waits until everything after it (removal included) is done. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.ended) this.stop({ kind: 'cancelled', why: 'the run was abandoned by its caller' });
    await this.finished.catch(() => undefined);
  }

  private readonly onAbort = () => this.stop({ kind: 'cancelled', why: describeAbort(this.options.signal.reason) });

  private stop(reason: EndReason): void {
    if (this.outcome.end || this.ended) return;
    this.outcome.end = reason;
    this.timers.push(this.container.terminate());
  }

  /** The job's stdin goes in at once; kept open only for interactive processes. */
  private feedStdin(stdin: Writable | null): Writable | null {
    if (!stdin) return null;
    // A process that exits without reading all of its stdin makes this write fail; that is its choice.
    stdin.on('error', () => undefined);
    const data = this.container.job.stdin;
    if (this.options.stdinOpen) {
      if (data?.length) stdin.write(data);
    } else stdin.end(data ?? Buffer.alloc(0));
    return stdin;
  }

  private async lifecycle(): Promise<RunResult> {
    const { job } = this.container;
    let network: Promise<NonNullable<RunResult['network']>> | undefined;
    try {
      await withSpan('sandbox.wait', { 'capsule.run_id': job.runId }, async (span) => {
        await this.follow();
        span.setAttribute('capsule.exit_code', this.outcome.exit?.exit_code ?? this.outcome.engineExit?.code ?? -1);
      });
      // The program has ended: a timeout or cancel from now on must not rewrite how it ended.
      this.settleControls();
      network = this.options.network?.();
      await this.runAfterExit();
    } catch (err) {
      // After the start the partial output is the result.
      this.outcome.failure = await describeMidRunFailure(this.options.runtime, this.lostWith ?? err, this.options.engine);
      this.options.log.warn({ run_id: job.runId, container_id: this.container.id, err }, 'run failed mid-way');
    } finally {
      this.settleControls();
      this.io.destroy();
      this.log.close();
    }
    network ??= this.options.network?.();
    if (network) this.outcome.extra = { ...this.outcome.extra, network: await network };
    return this.outcome.result();
  }

  private settleControls(): void {
    this.ended = true;
    this.timers.forEach(clearTimeout);
    this.options.signal.removeEventListener('abort', this.onAbort);
  }

  /** Read the launcher's frames until its exit frame (or the stream's end), then learn how the run ended. */
  private async follow(): Promise<void> {
    const { outcome, container } = this;
    let launched = false;
    for await (const event of untilAborted(launcherEvents(this.io.output), this.lostSignal.signal)) {
      if (event.kind === 'started') launched = true;
      else if (event.kind === 'output') {
        outcome.output(event.chunk);
        this.log.append(event.chunk);
      } else if (event.kind === 'skipped') outcome.skipped(event.stream, event.bytes);
      else if (event.kind === 'stats') {
        outcome.stats = event.stats;
        this.stats = toRunStats(event.stats);
      } else if (event.kind === 'exit') {
        // The launcher's exit frame arrives ~100 ms before the engine notices the container stop.
        outcome.exit = event.exit;
        break;
      }
    }
    if (this.lostWith && !outcome.exit) throw this.lostWith;
    const by = outcome.exit?.terminated_by ?? 0;
    if (by > 0 && !outcome.end && !container.sentByCapsule(signalName(by))) outcome.stoppedOutside = await describeOutsideStop(this.options.runtime, signalName(by));
    if (!outcome.exit) {
      if (container.warm && !launched) throw new RuntimeFailureError('the warm container ended before it took the job (the engine stopped it, or it was removed from outside Capsule)');
      // The launcher was killed (SIGKILL at a timeout, or by the program): ask the engine.
      outcome.engineExit = await container.engineExit();
    }
    if (outcome.stats) this.stats = toRunStats(outcome.stats);
  }

  /** Collected files, usage and tool outputs, read from the stopped container; a failure here is reported, not fatal. */
  private async runAfterExit(): Promise<void> {
    const { afterExit, log } = this.options;
    if (!afterExit) return;
    const { job } = this.container;
    try {
      const { extra, outputs } = await withSpan('sandbox.collect', { 'capsule.run_id': job.runId }, () => afterExit(this.container.id));
      this.outcome.extra = extra;
      this.collected = outputs;
    } catch (err) {
      log.warn({ run_id: job.runId, err }, 'collecting after the run failed');
      this.outcome.extra = { collect_error: (err as Error).message };
    }
  }
}

/** `source` until `signal` aborts: then the loop throws its reason, even while the source waits (a hung engine's stream). */
async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
  aborted.catch(() => undefined);
  try {
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    void it.return?.()?.catch(() => undefined);
  }
}
