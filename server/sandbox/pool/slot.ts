import type { PoolProfileState } from '../../schemas/pool-state.js';
import type { WarmContainer } from './warm-pool.js';

/** One profile's pool: its idle containers, its refill loop and what an operator needs to know. */
export interface Slot {
  idle: WarmContainer[];
  filling: Promise<void> | null;
  failures: number;
  lastError: string | null;
  lastErrorAt: number | null;
  nextRetryAt: number | null;
  /** Ends the current retry wait early (retryNow, close). */
  wake: (() => void) | null;
  replacedDead: number;
  handedOut: number;
}

/** What system_info and /readyz say of one profile's pool. */
export function slotState(s: Slot, targetSize: number, closed: boolean): PoolProfileState {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const status = closed ? 'closed' : s.nextRetryAt !== null ? 'retrying' : s.idle.length >= targetSize ? 'full' : 'filling';
  return {
    status,
    target_size: targetSize,
    idle: s.idle.length,
    filling: s.filling !== null,
    consecutive_failures: s.failures,
    last_error: s.lastError,
    last_error_at: iso(s.lastErrorAt),
    next_retry_at: iso(s.nextRetryAt),
    replaced_dead: s.replacedDead,
    handed_out: s.handedOut,
  };
}
