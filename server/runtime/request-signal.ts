import type { RuntimeCall } from './container-runtime.js';
import { requestTimedOut } from './runtime-errors.js';

/**
 * The signal of one engine request: the caller's cancellation or the request's own deadline, whichever
 * comes first (E2B's request-timeout model). The deadline is a request timeout, never a command's wall
 * time. Linked by a listener removed at dispose rather than AbortSignal.any: callers pass run- and
 * server-long signals, and an AbortSignal.any composite stays referenced by a long-lived source
 * (nodejs/node#55351).
 */
export class RequestSignal implements Disposable {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly caller: AbortSignal | undefined;
  private readonly onCallerAbort = () => this.controller.abort(this.caller?.reason);

  /** `engine` names the engine in the timeout error (e.g. "Docker engine at unix:///var/run/docker.sock"). */
  constructor(call: RuntimeCall, caller: AbortSignal | undefined, timeoutMs: number | null, engine: string) {
    this.caller = caller;
    if (caller?.aborted) this.controller.abort(caller.reason);
    else caller?.addEventListener('abort', this.onCallerAbort, { once: true });
    if (timeoutMs !== null && !this.controller.signal.aborted) {
      this.timer = setTimeout(() => this.controller.abort(requestTimedOut(engine, call, timeoutMs)), timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The deadline no longer applies (a stream has opened); the caller's signal still does. */
  clearDeadline(): void {
    clearTimeout(this.timer);
  }

  /**
   * Run `request` under the signal: its outcome, or the abort reason as soon as the signal fires
   * (whether or not the request noticed). An already aborted signal never starts it.
   */
  run<T>(request: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { signal } = this;
    if (signal.aborted) return Promise.reject(signal.reason);
    const pending = request(signal);
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return Promise.race([pending, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
  }

  [Symbol.dispose](): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}
