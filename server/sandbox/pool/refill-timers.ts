/**
 * Refills put off until the run that took a warm container ends. Creating and starting a replacement
 * costs the engine ~150 ms of CPU on the same cores the run's job needs: started at take(), it
 * competed with the run it was replacing.
 */
export class RefillTimers {
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; refill: () => void }>();

  /** Run `refill` in `ms`, replacing what was pending under `key`. */
  set(key: string, ms: number, refill: () => void): void {
    clearTimeout(this.pending.get(key)?.timer);
    const timer = setTimeout(() => {
      this.pending.delete(key);
      refill();
    }, ms);
    timer.unref();
    this.pending.set(key, { timer, refill });
  }

  /** Bring the refill pending under `key` forward to `ms` from now; nothing when none is. */
  hurry(key: string, ms: number): void {
    const p = this.pending.get(key);
    if (p) this.set(key, ms, p.refill);
  }

  /** Drop every pending refill (the pool is closing). */
  clear(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }
}
