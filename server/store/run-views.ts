import type Database from 'better-sqlite3';
import type { RunRecord } from './run-store.js';

/** A run as lists show it: the record without its result (results can be megabytes each). */
export type RunSummary = Omit<RunRecord, 'result' | 'engine'>;

export interface RunFilter {
  /** One owner's runs, or null for every owner's (admins). */
  owner: string | null;
  status?: string | undefined;
  profile?: string | undefined;
  limit?: number | undefined;
  /** Only runs started before this ISO time (paging back). */
  before?: string | undefined;
}

const SUMMARY_COLUMNS = 'run_id, process_id, kind, owner, profile, summary, status, exit_code, started_at, finished_at, duration_ms, error, trace_id, task_id';

/**
 * Read-only queries over the runs table for the dashboard: filtered lists, the values filters offer,
 * and counts over time. They run only when a dashboard asks; nothing here is on a run's path.
 */
export class RunViews {
  constructor(private readonly db: Database.Database) {}

  /** Runs newest first, filtered; at most 500. */
  list(filter: RunFilter): RunSummary[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      args.push(value);
    };
    if (filter.owner !== null) add('owner = ?', filter.owner);
    if (filter.status) add('status = ?', filter.status);
    if (filter.profile) add('profile = ?', filter.profile);
    if (filter.before) add('started_at < ?', filter.before);
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 500);
    const sql = `SELECT ${SUMMARY_COLUMNS} FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC LIMIT ?`;
    return this.db.prepare(sql).all(...args, limit) as RunSummary[];
  }

  /** The profiles (and, for every owner, the owners) that appear in the visible runs: what the filters offer. */
  facets(owner: string | null): { profiles: string[]; owners: string[] } {
    const scope = owner === null ? '' : 'WHERE owner = ?';
    const args = owner === null ? [] : [owner];
    const column = (name: string) => (this.db.prepare(`SELECT DISTINCT ${name} AS v FROM runs ${scope} ORDER BY v`).all(...args) as Array<{ v: string }>).map((r) => r.v);
    return { profiles: column('profile'), owners: owner === null ? column('owner') : [owner] };
  }

  /** Runs started in each of the last `minutes` minutes (oldest first, zeros included). */
  startedPerMinute(owner: string | null, minutes: number, now = Date.now()): Array<{ minute: string; started: number }> {
    const first = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
    const scope = owner === null ? '' : 'AND owner = ?';
    const rows = this.db
      .prepare(`SELECT substr(started_at, 1, 16) AS minute, count(*) AS n FROM runs WHERE started_at >= ? ${scope} GROUP BY minute`)
      .all(new Date(first).toISOString(), ...(owner === null ? [] : [owner])) as Array<{ minute: string; n: number }>;
    const counts = new Map(rows.map((r) => [r.minute, r.n]));
    return Array.from({ length: minutes }, (_, i) => {
      const minute = new Date(first + i * 60_000).toISOString().slice(0, 16);
      return { minute: `${minute}:00Z`, started: counts.get(minute) ?? 0 };
    });
  }

  /** How runs that finished since `sinceMs` ago ended, by status. */
  outcomesSince(owner: string | null, sinceMs: number, now = Date.now()): Record<string, number> {
    const scope = owner === null ? '' : 'AND owner = ?';
    const rows = this.db
      .prepare(`SELECT status, count(*) AS n FROM runs WHERE finished_at >= ? ${scope} GROUP BY status`)
      .all(new Date(now - sinceMs).toISOString(), ...(owner === null ? [] : [owner])) as Array<{ status: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }
}
