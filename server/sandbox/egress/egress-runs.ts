import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { NetworkTally, parseEgressLogLine, type NetworkSummary } from '../../egress/access-log.js';
import type { RunRegistration } from '../../egress/run-registration.js';
import { registryFile } from '../../egress/run-registration.js';
import { capsuleMetrics } from '../../telemetry/metrics.js';

/**
 * The runs registered with the egress proxy now, and what the proxy's access log says each did. The
 * registry file is written whole (coalesced: a write asked for during one runs once after it); the
 * tally counts only lines of registered runs, so forged or stale user names cost nothing.
 */
export class EgressRuns {
  private readonly runs = new Map<string, RunRegistration>();
  private readonly tally = new NetworkTally();
  private readonly lastLine = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private pending: Promise<void> | null = null;

  constructor(
    private readonly log: Logger,
    /** Write the registry file's content into the proxy's state volume. */
    private readonly write: (content: string) => Promise<void>,
    /** After a run's program ended, its summary waits until the log was quiet this long (at most maxMs). */
    private readonly flush: { quietMs: number; maxMs: number },
  ) {}

  get size(): number {
    return this.runs.size;
  }

  /** The registry file for the runs registered now. */
  file(): string {
    return registryFile(this.runs.values());
  }

  /** Register a run and resolve once the proxy's registry holds it. */
  async add(registration: RunRegistration): Promise<void> {
    this.runs.set(registration.runId, registration);
    await this.sync();
  }

  /** Unregister a run: its credentials stop working (the write happens in the background). */
  remove(runId: string): void {
    this.runs.delete(runId);
    this.tally.forget(runId);
    this.lastLine.delete(runId);
    this.sync().catch((err: unknown) => this.log.warn({ run_id: runId, err }, 'egress registry update failed (the run stays registered until the next one)'));
  }

  /** One line of the proxy's stdout. */
  line(text: string): void {
    const event = parseEgressLogLine(text);
    if (!event?.runId) return;
    const run = this.runs.get(event.runId);
    // The profile in the user name is checked by the proxy against the registry; check it here too.
    if (!run || run.profile !== event.profile) return;
    this.tally.add(event);
    this.lastLine.set(event.runId, Date.now());
    if (event.decision === 'denied') capsuleMetrics.egressDenied.add(1, { profile: run.profile, reason: event.reason ?? 'unknown' });
  }

  /**
   * What the run reached and was refused, once its program has ended: squid logs a tunnel when it
   * closes, a few ms after the program's sockets are (quietMs absorbs that; a tunnel a leftover
   * process still holds is counted when it closes, if the run is still registered).
   */
  async summary(runId: string): Promise<NetworkSummary> {
    const start = Date.now();
    for (;;) {
      const quiet = Date.now() - Math.max(start, this.lastLine.get(runId) ?? 0);
      const left = Math.min(this.flush.quietMs - quiet, start + this.flush.maxMs - Date.now());
      if (left <= 0) return this.tally.summary(runId);
      await sleep(left);
    }
  }

  /**
   * Write the registry. A write asked for while none waits is queued behind the one running; later
   * asks share it (it reads the registry when it starts, so it carries their changes too).
   */
  sync(): Promise<void> {
    if (!this.pending) {
      const pending: Promise<void> = this.chain.catch(() => undefined).then(() => {
        if (this.pending === pending) this.pending = null;
        return this.write(this.file());
      });
      this.pending = pending;
      this.chain = pending;
    }
    return this.pending;
  }
}
