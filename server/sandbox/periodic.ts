/**
 * A background task run on a timer and on demand: concurrent calls share one run (a slow sweep is
 * never stacked on itself), errors of timer runs are handed to `onError`, never thrown. The timer
 * does not keep the process alive. Used by the reaper and by Swarm discovery.
 */
export class Periodic<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | null = null;

  constructor(
    private readonly task: () => Promise<T>,
    private readonly intervalMs: number,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Run once now, or join the run in progress. */
  run(): Promise<T> {
    this.running ??= this.task().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Run every intervalMs (and at once when `now`) until stop(). */
  start(now: boolean): void {
    const tick = () => void this.run().catch((err: unknown) => this.onError(err as Error));
    if (now) tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  /** Stop the timer; resolves once a run in progress has ended. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
