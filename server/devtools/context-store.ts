import type Database from 'better-sqlite3';
import { InvalidInputError, NotFoundError, QuotaExceededError } from '../errors.js';
import type { z } from 'zod';
import type { getContextOutput, listContextOutput } from '../schemas/devtools-outputs.js';

/** Size limits of the context store; every one is enforced, none is optional. */
export interface ContextLimits {
  /** Largest JSON encoding of one value, in bytes. */
  maxValueBytes: number;
  /** Largest total of one owner's live values, in bytes. */
  maxOwnerBytes: number;
  maxKeysPerOwner: number;
}

/** A key's facts without its value (what list returns). */
export type ContextKeyInfo = z.infer<typeof listContextOutput>['keys'][number];

/** A key's facts and its value (what get returns). */
export type ContextEntry = z.infer<typeof getContextOutput>;

/** Keys are short, path-like names; nothing else needs escaping anywhere they appear. */
export const CONTEXT_KEY = /^[A-Za-z0-9_.:/-]{1,200}$/;
/** A year; a longer TTL is almost certainly a unit mistake (ms for s). */
export const MAX_CONTEXT_TTL_S = 365 * 24 * 3600;

interface Row {
  key: string;
  value: string;
  bytes: number;
  updated_at: number;
  expires_at: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * A small owner-scoped key/value store for agent context (JSON values with an optional TTL), kept in
 * the server's SQLite database. Expired keys read as missing at once and are deleted by purgeExpired.
 */
export class ContextStore {
  private readonly now: () => number;

  constructor(
    private readonly db: Database.Database,
    private readonly limits: ContextLimits,
    options: { now?: () => number } = {},
  ) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 1) throw new InvalidInputError(`context limit ${name} must be a positive integer; got ${value}`);
    }
    this.now = options.now ?? Date.now;
    db.exec(`
      CREATE TABLE IF NOT EXISTS context (
        owner      TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        bytes      INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER,
        PRIMARY KEY (owner, key)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS context_expires ON context (expires_at) WHERE expires_at IS NOT NULL;
    `);
  }

  /** Store `value` (as JSON) under `key`, replacing any earlier value; `ttlS` makes it expire. */
  set(owner: string, key: string, value: unknown, ttlS?: number): { key: string; bytes: number; expires_at: string | null } {
    checkOwner(owner);
    checkKey(key);
    if (ttlS !== undefined && (!Number.isInteger(ttlS) || ttlS < 1 || ttlS > MAX_CONTEXT_TTL_S)) {
      throw new InvalidInputError(`ttl_s must be an integer from 1 to ${MAX_CONTEXT_TTL_S}; got ${ttlS}`);
    }
    const json = encode(value);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > this.limits.maxValueBytes) {
      throw new QuotaExceededError(`the value is ${bytes} bytes; the limit per value is ${this.limits.maxValueBytes} bytes (maxValueBytes)`);
    }
    const now = this.now();
    const expiresAt = ttlS === undefined ? null : now + ttlS * 1000;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM context WHERE owner = ? AND expires_at IS NOT NULL AND expires_at <= ?').run(owner, now);
      const used = this.db
        .prepare('SELECT COUNT(*) AS keys, COALESCE(SUM(bytes), 0) AS bytes FROM context WHERE owner = ? AND key <> ?')
        .get(owner, key) as { keys: number; bytes: number };
      if (used.keys + 1 > this.limits.maxKeysPerOwner) {
        throw new QuotaExceededError(`this owner already has ${used.keys} keys; the limit is ${this.limits.maxKeysPerOwner} (maxKeysPerOwner); delete some first`);
      }
      if (used.bytes + bytes > this.limits.maxOwnerBytes) {
        throw new QuotaExceededError(
          `storing ${bytes} bytes would bring this owner to ${used.bytes + bytes} bytes; the limit is ${this.limits.maxOwnerBytes} bytes (maxOwnerBytes); delete some keys first`,
        );
      }
      this.db
        .prepare('INSERT OR REPLACE INTO context (owner, key, value, bytes, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(owner, key, json, bytes, now, expiresAt);
    })();
    return { key, bytes, expires_at: iso(expiresAt) };
  }

  /** The value of one key; NotFoundError when it is missing, expired or another owner's. */
  get(owner: string, key: string): ContextEntry {
    checkOwner(owner);
    checkKey(key);
    const row = this.db
      .prepare('SELECT key, value, bytes, updated_at, expires_at FROM context WHERE owner = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)')
      .get(owner, key, this.now()) as Row | undefined;
    if (!row) throw new NotFoundError(`context key "${key}" not found (never set, deleted or expired)`);
    return { ...info(row), value: JSON.parse(row.value) as unknown };
  }

  /** The owner's live keys, sorted, with sizes and times but no values. */
  list(owner: string): ContextKeyInfo[] {
    checkOwner(owner);
    const rows = this.db
      .prepare('SELECT key, bytes, updated_at, expires_at FROM context WHERE owner = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY key')
      .all(owner, this.now()) as Row[];
    return rows.map(info);
  }

  /** Remove one key; false when there was no live key to remove. */
  delete(owner: string, key: string): boolean {
    checkOwner(owner);
    checkKey(key);
    const { changes } = this.db
      .prepare('DELETE FROM context WHERE owner = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)')
      .run(owner, key, this.now());
    return changes > 0;
  }

  /** Delete every expired key of every owner; returns how many. */
  purgeExpired(): number {
    return this.db.prepare('DELETE FROM context WHERE expires_at IS NOT NULL AND expires_at <= ?').run(this.now()).changes;
  }
}

function info(row: Row): ContextKeyInfo {
  return { key: row.key, bytes: row.bytes, updated_at: iso(row.updated_at)!, expires_at: iso(row.expires_at) };
}

function checkOwner(owner: string): void {
  if (owner.length === 0) throw new InvalidInputError('owner must not be empty');
}

function checkKey(key: string): void {
  if (!CONTEXT_KEY.test(key)) throw new InvalidInputError(`context key must be 1 to 200 characters of A-Z a-z 0-9 _ . : / -; got ${JSON.stringify(key.slice(0, 60))}`);
}

function encode(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new InvalidInputError(`the value cannot be stored as JSON: ${(err as Error).message}`);
  }
  if (json === undefined) throw new InvalidInputError('the value cannot be stored as JSON (undefined, a function or a symbol)');
  return json;
}
