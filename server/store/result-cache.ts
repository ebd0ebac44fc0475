import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { z } from 'zod';
import type { runResultObject } from '../schemas/run-outputs.js';

type RunResult = z.infer<typeof runResultObject>;

/** What makes two runs the same, for the cache key. Never stored: only its SHA-256. */
export interface CacheKeyParts {
  owner: string;
  imageId: string;
  profile: string;
  /** argv, env, workdir, stdin, limits, timeout and the files' content hashes. */
  inputs: unknown;
}

/**
 * Opt-in result cache (`cache: true` on run_command/run_code): a hit returns the stored result with
 * `cached: true`. The key includes the image's id, so rebuilding the image invalidates every entry.
 * Entries are per owner and expire after the TTL.
 */
export class ResultCache {
  constructor(
    private readonly db: Database.Database,
    private readonly ttlMs: number,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS result_cache (
      key TEXT PRIMARY KEY,
      owner TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      result_json TEXT NOT NULL
    )`);
  }

  /** The cache key of a run (a hex SHA-256 of its canonical inputs). */
  static key(parts: CacheKeyParts): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  /** A stored result for this key, or null. */
  get(key: string, owner: string): RunResult | null {
    const row = this.db.prepare('SELECT result_json, created_at FROM result_cache WHERE key = ? AND owner = ?').get(key, owner) as
      | { result_json: string; created_at: number }
      | undefined;
    if (!row || row.created_at < Date.now() - this.ttlMs) return null;
    return JSON.parse(row.result_json) as RunResult;
  }

  /** Store a result; only clean exits are worth replaying (a timeout or a failure is not a fact about the code). */
  put(key: string, owner: string, result: RunResult): void {
    if (result.status !== 'exited') return;
    this.db.prepare('INSERT OR REPLACE INTO result_cache (key, owner, created_at, result_json) VALUES (?, ?, ?, ?)').run(key, owner, Date.now(), JSON.stringify(result));
  }

  /** Drop expired entries; returns how many. */
  purge(): number {
    return this.db.prepare('DELETE FROM result_cache WHERE created_at < ?').run(Date.now() - this.ttlMs).changes;
  }
}
