import { BusyError } from '../../errors.js';

interface OwnerState {
  active: number;
  tokens: number;
  refilledAt: number;
}

/**
 * Per-owner fairness: at most `maxConcurrent` runs in flight (running or queued) per owner, and a
 * token bucket of `perMinute` run starts. Refusals are BusyError with a retry_after_s hint.
 */
export class OwnerLimits {
  private readonly owners = new Map<string, OwnerState>();

  constructor(
    private readonly maxConcurrent: number,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Admit one run for `owner`, or throw BusyError; returns the function that ends it. */
  enter(owner: string): () => void {
    const state = this.refill(owner);
    if (state.active >= this.maxConcurrent) {
      throw new BusyError(`owner "${owner}" already has ${state.active} runs in flight (limit ${this.maxConcurrent}); retry when one ends`, {
        details: { retry_after_s: 1 },
      });
    }
    if (state.tokens < 1) {
      const perMs = this.perMinute / 60_000;
      const retry = Math.max(1, Math.ceil((1 - state.tokens) / perMs / 1000));
      throw new BusyError(`owner "${owner}" exceeded ${this.perMinute} runs per minute; retry in ${retry} s`, {
        details: { retry_after_s: retry },
      });
    }
    state.tokens -= 1;
    state.active += 1;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      state.active -= 1;
    };
  }

  private refill(owner: string): OwnerState {
    const now = this.now();
    let state = this.owners.get(owner);
    if (!state) {
      state = { active: 0, tokens: this.perMinute, refilledAt: now };
      this.owners.set(owner, state);
    }
    state.tokens = Math.min(this.perMinute, state.tokens + ((now - state.refilledAt) * this.perMinute) / 60_000);
    state.refilledAt = now;
    return state;
  }
}
