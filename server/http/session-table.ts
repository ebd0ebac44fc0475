import { SessionLimitError } from '../errors.js';

export interface SessionLimits {
  /** CAPSULE_MAX_SESSIONS: open sessions over all owners. */
  maxSessions: number;
  /** CAPSULE_OWNER_MAX_SESSIONS: open sessions of one owner. */
  maxPerOwner: number;
  /** CAPSULE_SESSION_IDLE_TIMEOUT in ms: a session with no request for this long expires. */
  idleMs: number;
  /** Open GET (SSE) streams of one session. */
  maxStreamsPerSession: number;
}

interface Entry<T> {
  value: T;
  owner: string;
  lastSeen: number;
  /** POST/DELETE requests not yet answered: a session answering a long run is not idle. */
  inFlight: number;
  /** Open GET streams (the standalone SSE stream, resumptions with Last-Event-ID). */
  streams: number;
}

/** A slot held for an initialize in progress: `open` it with the session id, or `release` it. */
export interface SessionSlot<T> {
  open(id: string, value: T): void;
  release(): void;
  readonly opened: boolean;
}

/**
 * Which MCP sessions are open, whose they are and when each was last used; the caps are checked
 * here. A slot is reserved when an initialize starts, because the transport assigns the session id
 * a few awaits later: a burst of concurrent initializes cannot overshoot a cap.
 */
export class SessionTable<T> {
  private readonly entries = new Map<string, Entry<T>>();
  /** Per owner: open sessions plus reserved slots. */
  private readonly held = new Map<string, number>();
  private reserved = 0;

  constructor(
    readonly limits: SessionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** How often expiry is checked: a quarter of the idle timeout, between 1 s and 60 s. */
  get sweepIntervalMs(): number {
    return Math.min(60_000, Math.max(1000, Math.floor(this.limits.idleMs / 4)));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Open sessions plus reserved slots, per owner. */
  heldByOwner(): Record<string, number> {
    return Object.fromEntries(this.held);
  }

  /** Open sessions plus reserved slots of `owner`. */
  heldBy(owner: string): number {
    return this.held.get(owner) ?? 0;
  }

  /** Hold a slot for `owner`'s initialize, or throw SessionLimitError naming the cap that is full. */
  reserve(owner: string): SessionSlot<T> {
    const { maxSessions, maxPerOwner } = this.limits;
    if (this.entries.size + this.reserved >= maxSessions) {
      const retry = this.retryAfterS();
      throw new SessionLimitError(
        `session limit reached: the server holds CAPSULE_MAX_SESSIONS=${maxSessions} MCP sessions; close one (DELETE /mcp with its mcp-session-id) or retry in ${retry} s, when an idle one expires`,
        { limit: 'CAPSULE_MAX_SESSIONS', max: maxSessions, retry_after_s: retry },
      );
    }
    if (this.heldBy(owner) >= maxPerOwner) {
      const retry = this.retryAfterS(owner);
      throw new SessionLimitError(
        `session limit reached: owner "${owner}" holds CAPSULE_OWNER_MAX_SESSIONS=${maxPerOwner} MCP sessions; close one (DELETE /mcp with its mcp-session-id) or retry in ${retry} s, when an idle one expires`,
        { limit: 'CAPSULE_OWNER_MAX_SESSIONS', max: maxPerOwner, retry_after_s: retry },
      );
    }
    this.reserved++;
    this.adjust(owner, 1);
    let state: 'reserved' | 'open' | 'released' = 'reserved';
    return {
      open: (id, value) => {
        if (state !== 'reserved') return;
        state = 'open';
        this.reserved--;
        this.entries.set(id, { value, owner, lastSeen: this.now(), inFlight: 0, streams: 0 });
      },
      release: () => {
        if (state !== 'reserved') return;
        state = 'released';
        this.reserved--;
        this.adjust(owner, -1);
      },
      get opened() {
        return state === 'open';
      },
    };
  }

  get(id: string): { value: T; owner: string } | undefined {
    return this.entries.get(id);
  }

  /**
   * A request on session `id` begins (it counts as use); call the returned function when its response
   * ends. GET streams are counted and capped, but do not keep a session from expiring: expiry closes them.
   */
  begin(id: string, kind: 'request' | 'stream'): () => void {
    const entry = this.entries.get(id);
    if (!entry) return () => undefined;
    entry.lastSeen = this.now();
    if (kind === 'stream') {
      const max = this.limits.maxStreamsPerSession;
      if (entry.streams >= max) {
        throw new SessionLimitError(`stream limit reached: this session already has ${max} open GET streams, the most one session may hold; close one first`, {
          limit: 'streams_per_session',
          max,
          retry_after_s: 1,
        });
      }
      entry.streams++;
    } else {
      entry.inFlight++;
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (kind === 'stream') entry.streams--;
      else {
        entry.inFlight--;
        entry.lastSeen = this.now();
      }
    };
  }

  /** Forget session `id` (closed, deleted or expired); its slot is free again. */
  remove(id: string): T | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    this.adjust(entry.owner, -1);
    return entry.value;
  }

  /** Ids of sessions idle for the idle timeout, with no request in flight. */
  expired(): string[] {
    const cutoff = this.now() - this.limits.idleMs;
    return [...this.entries].filter(([, e]) => e.inFlight === 0 && e.lastSeen <= cutoff).map(([id]) => id);
  }

  /** Removes every session and returns their values (shutdown). */
  clear(): T[] {
    const all = [...this.entries.values()].map((e) => e.value);
    for (const id of [...this.entries.keys()]) this.remove(id);
    return all;
  }

  /** Seconds until the first idle session (of `owner`, when given) expires and is swept; the idle timeout when none is idle. */
  private retryAfterS(owner?: string): number {
    let first = Infinity;
    for (const e of this.entries.values()) if (e.inFlight === 0 && (owner === undefined || e.owner === owner)) first = Math.min(first, e.lastSeen);
    const wait = first === Infinity ? this.limits.idleMs : first + this.limits.idleMs - this.now() + this.sweepIntervalMs;
    return Math.max(1, Math.ceil(wait / 1000));
  }

  private adjust(owner: string, by: number): void {
    const n = this.heldBy(owner) + by;
    if (n > 0) this.held.set(owner, n);
    else this.held.delete(owner);
  }
}
