import { BusyError, ShuttingDownError } from '../../errors.js';

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (err: unknown) => void;
}

/**
 * At most `max` holders at once, with a bounded FIFO queue behind them. A full queue rejects at once
 * with BusyError (never an unbounded backlog); an aborted waiter leaves the queue.
 */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly max: number,
    readonly maxQueued: number,
  ) {}

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Wait for a slot; resolves with the function that gives it back. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new ShuttingDownError('cancelled'));
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new BusyError(`all ${this.max} sandbox slots are busy and ${this.queue.length} calls are waiting; retry shortly`, {
          details: { retry_after_s: 1 },
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      this.queue.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) {
            this.queue.splice(i, 1);
            reject(signal.reason);
          }
        },
        { once: true },
      );
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next.resolve(this.releaser());
      else this.active--;
    };
  }
}
