import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BusyError, InternalError, InvalidInputError } from '../errors.js';
import { CALCULATOR_WORKER_SOURCE } from './calculator-worker.js';
import type { z } from 'zod';
import type { calculateOutput } from '../schemas/devtools-outputs.js';

/** The answer of `calculate`: the formatted value and its mathjs type (BigNumber, Unit, DenseMatrix, ...). */
export type CalculationResult = z.infer<typeof calculateOutput>;

export interface CalculatorOptions {
  /** Default per-expression time budget; a call may ask for less or more, up to maxTimeoutMs. */
  timeoutMs?: number;
  maxTimeoutMs?: number;
  /** V8 old-generation heap of the worker; mathjs itself takes about 45 MB of it. */
  maxHeapMb?: number;
  maxExpressionChars?: number;
  maxResultChars?: number;
  /** Expressions waiting behind the running one before calls are refused as busy. */
  maxQueued?: number;
}

type WorkerReply =
  | { ready: true }
  | { id: number; ok: true; result: string; type: string }
  | { id: number; ok: false; kind: 'syntax' | 'eval' | 'result_size'; message: string; char?: number };

const DEFAULTS: Required<CalculatorOptions> = {
  timeoutMs: 2_000,
  maxTimeoutMs: 30_000,
  maxHeapMb: 160,
  maxExpressionChars: 10_000,
  maxResultChars: 100_000,
  maxQueued: 32,
};
// Loading mathjs takes about 2 s on a slow host; that time is not charged to the first expression.
const STARTUP_TIMEOUT_MS = 20_000;

const mathjsPath = createRequire(import.meta.url).resolve('mathjs');

/**
 * Evaluates mathjs expressions in one worker thread with a heap limit. A call that runs past its
 * time budget or out of memory terminates the worker; the next call starts a fresh one.
 * Calls run one at a time, in order.
 */
export class Calculator {
  private readonly opts: Required<CalculatorOptions>;
  private worker: Worker | null = null;
  private ready: Promise<Worker> | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private nextId = 1;

  constructor(options: CalculatorOptions = {}) {
    this.opts = { ...DEFAULTS, ...options };
  }

  /** Evaluate one expression (or several separated by ";" or newlines) and format the result. */
  async evaluate(expression: string, opts: { timeoutMs?: number } = {}): Promise<CalculationResult> {
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > this.opts.maxTimeoutMs) {
      throw new InvalidInputError(`timeoutMs must be an integer from 1 to ${this.opts.maxTimeoutMs}; got ${timeoutMs}`);
    }
    if (expression.trim().length === 0) throw new InvalidInputError('expression must not be empty');
    if (expression.length > this.opts.maxExpressionChars) {
      throw new InvalidInputError(`expression is ${expression.length} characters; the limit is ${this.opts.maxExpressionChars}`);
    }
    if (this.queued >= this.opts.maxQueued) throw new BusyError(`the calculator has ${this.queued} expressions waiting; try again shortly`);
    this.queued++;
    const run = this.tail.then(() => this.runOne(expression, timeoutMs));
    this.tail = run.catch(() => undefined).finally(() => this.queued--);
    return await run;
  }

  /** Stop the worker; a later call starts a new one. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.ready = null;
    if (worker) await worker.terminate();
  }

  private async runOne(expression: string, timeoutMs: number): Promise<CalculationResult> {
    const worker = await this.start();
    const id = this.nextId++;
    return new Promise<CalculationResult>((resolve, reject) => {
      const done = (settle: () => void) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        settle();
      };
      const timer = setTimeout(() => {
        this.discard(worker);
        done(() => reject(new InvalidInputError(`expression took longer than ${timeoutMs} ms`, { details: { timeout_ms: timeoutMs } })));
      }, timeoutMs);
      const onMessage = (reply: WorkerReply) => {
        if (!('id' in reply) || reply.id !== id) return;
        if (reply.ok) done(() => resolve({ result: reply.result, type: reply.type }));
        else done(() => reject(replyError(reply)));
      };
      const onError = (err: Error & { code?: string }) => {
        this.discard(worker);
        if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          done(() => reject(new InvalidInputError(`expression used more than the calculator's ${this.opts.maxHeapMb} MB of memory`)));
        } else {
          done(() => reject(new InternalError('the calculator worker failed', { cause: err })));
        }
      };
      const onExit = () => {
        this.discard(worker);
        done(() => reject(new InternalError('the calculator worker stopped unexpectedly')));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ id, expression, maxResultChars: this.opts.maxResultChars });
    });
  }

  private start(): Promise<Worker> {
    if (this.ready) return this.ready;
    const worker = new Worker(CALCULATOR_WORKER_SOURCE, {
      eval: true,
      workerData: { mathjsPath },
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    // An idle calculator must not keep the server process alive; a pending call's timer does.
    worker.unref();
    // Per-call listeners report failures; these keep an idle worker's crash from being an uncaught 'error'.
    worker.on('error', () => this.discard(worker));
    worker.on('exit', () => this.discard(worker));
    this.worker = worker;
    const ready = new Promise<Worker>((resolve, reject) => {
      const timer = setTimeout(() => fail(new InternalError('the calculator worker did not start in time')), STARTUP_TIMEOUT_MS);
      const cleanup = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', fail);
        worker.off('exit', fail);
      };
      const fail = (err: unknown) => {
        cleanup();
        this.discard(worker);
        reject(err instanceof InternalError ? err : new InternalError('the calculator worker failed to start', { cause: err }));
      };
      const onMessage = (reply: WorkerReply) => {
        if (!('ready' in reply)) return;
        cleanup();
        resolve(worker);
      };
      worker.on('message', onMessage);
      worker.on('error', fail);
      worker.on('exit', fail);
    });
    this.ready = ready;
    return ready;
  }

  private discard(worker: Worker): void {
    if (this.worker === worker) {
      this.worker = null;
      this.ready = null;
    }
    void worker.terminate();
  }
}

function replyError(reply: Extract<WorkerReply, { ok: false }>): InvalidInputError {
  if (reply.kind === 'syntax') {
    return new InvalidInputError(`syntax error: ${reply.message}`, reply.char === undefined ? undefined : { details: { char: reply.char } });
  }
  return new InvalidInputError(reply.message);
}
