import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import type { runResultObject, RunState } from '../schemas/run-outputs.js';

type RunResult = z.infer<typeof runResultObject>;

/** What the store keeps of one run or process. */
export interface RunRecord {
  run_id: string;
  process_id: string | null;
  kind: 'run' | 'process';
  owner: string;
  profile: string;
  /** The command (first 300 characters) or "<language> code (N bytes)"; never code bodies. */
  summary: string;
  status: RunState;
  exit_code: number | null;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  error: string | null;
  /** The trace of the call that started the run (OpenTelemetry trace id), when there was one. */
  trace_id: string | null;
  /** The MCP task the run belongs to (a tools/call made as a task), when it does. */
  task_id: string | null;
  /** The engine it ran on (null for records made before engines were recorded). */
  engine: string | null;
  /** The full result (capped output included) once finished. */
  result: RunResult | null;
}

/** A row of the runs table: the record with the status as stored and the result as JSON. */
type Row = Omit<RunRecord, 'status' | 'result'> & { status: string; result_json: string | null };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run_id      TEXT PRIMARY KEY,
  process_id  TEXT,
  kind        TEXT NOT NULL,
  instance    TEXT NOT NULL,
  owner       TEXT NOT NULL,
  profile     TEXT NOT NULL,
  summary     TEXT NOT NULL,
  status      TEXT NOT NULL,
  exit_code   INTEGER,
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  duration_ms INTEGER,
  error       TEXT,
  result_json TEXT,
  trace_id    TEXT,
  task_id     TEXT,
  engine      TEXT
);
CREATE INDEX IF NOT EXISTS runs_owner_started ON runs (owner, started_at DESC);
CREATE INDEX IF NOT EXISTS runs_finished ON runs (finished_at);
`;

/** The embedded run store (SQLite via better-sqlite3): finished results survive a server restart. */
export class RunStore {
  private readonly db: Database.Database;
  /** Counts this store's writes; with SQLite's data_version (other connections' commits) it versions the runs list. */
  private writes = 0;
  private readonly nonce = randomBytes(4).toString('hex');
  /** Prepared once: preparing the two statements of every run cost ~0.2 ms per run (CPU profile, warm echo). */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(
    db: Database.Database,
    private readonly instance: string,
  ) {
    this.db = db;
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** The underlying database, for stores that share the file (result cache, context store). */
  get database(): Database.Database {
    return this.db;
  }

  /** Open (creating when needed) `<dataDir>/capsule.db`; ':memory:' for tests. */
  static open(dataDir: string, instance: string): RunStore {
    let db: Database.Database;
    if (dataDir === ':memory:') db = new Database(':memory:');
    else {
      mkdirSync(dataDir, { recursive: true });
      db = new Database(join(dataDir, 'capsule.db'));
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.exec(SCHEMA);
    // A database made before the column existed (CREATE TABLE IF NOT EXISTS leaves it as it was).
    const columns = db.prepare(`PRAGMA table_info(runs)`).all() as Array<{ name: string }>;
    for (const column of ['trace_id', 'task_id', 'engine']) if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE runs ADD COLUMN ${column} TEXT`);
    return new RunStore(db, instance);
  }

  /**
   * Changes whenever a run is recorded, finishes or is purged (here or by another process on the same
   * file): an ETag for the runs list, so an unchanged list costs a comparison, not a query.
   */
  get version(): string {
    const external = this.db.pragma('data_version', { simple: true }) as number;
    return `${this.nonce}.${this.writes}.${external}`;
  }

  /** Record a run as started (status running). */
  recordStarted(r: { run_id: string; process_id?: string | null; kind: 'run' | 'process'; owner: string; profile: string; summary: string; trace_id?: string | null; task_id?: string | null; engine?: string | null }): void {
    this.prepared(
      `INSERT OR REPLACE INTO runs (run_id, process_id, kind, instance, owner, profile, summary, status, started_at, trace_id, task_id, engine)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)`,
    ).run(r.run_id, r.process_id ?? null, r.kind, this.instance, r.owner, r.profile, r.summary.slice(0, 300), new Date().toISOString(), r.trace_id ?? null, r.task_id ?? null, r.engine ?? null);
    this.writes++;
  }

  /** Record how a run ended. */
  recordFinished(result: RunResult): void {
    const sql = `UPDATE runs SET status = ?, exit_code = ?, finished_at = ?, duration_ms = ?, error = ?, result_json = ? WHERE run_id = ?`;
    this.prepared(sql).run(result.status, result.exit_code, new Date().toISOString(), result.duration_ms, result.error ?? null, JSON.stringify(result), result.run_id);
    this.writes++;
  }

  /** Record a run that ended without a result (it never started). */
  recordAbandoned(runId: string, error: string): void {
    this.prepared(`UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ? AND status = 'running'`).run(new Date().toISOString(), error, runId);
    this.writes++;
  }

  /** Mark this instance's runs still "running" as failed: the server stopped while they were in flight. */
  markInterrupted(reason: string): number {
    this.writes++;
    return this.prepared(`UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE status = 'running' AND instance = ?`).run(new Date().toISOString(), reason, this.instance).changes;
  }

  /** One run of this owner, or null (another owner's run is indistinguishable from a missing one). */
  get(runId: string, owner: string): RunRecord | null {
    const row = this.prepared(`SELECT * FROM runs WHERE run_id = ? AND owner = ?`).get(runId, owner) as Row | undefined;
    return row ? toRecord(row) : null;
  }

  /** One run of any owner, by run id or process id: whose it is decides who may see it (see server/http/viewer.ts). */
  find(id: string): RunRecord | null {
    // By run id first (the primary key); process ids have no index, so they are scanned only when asked for.
    const row = (this.prepared(`SELECT * FROM runs WHERE run_id = ?`).get(id) ?? this.prepared(`SELECT * FROM runs WHERE process_id = ? LIMIT 1`).get(id)) as Row | undefined;
    return row ? toRecord(row) : null;
  }

  /** The owner's runs, newest first. */
  list(owner: string, options: { limit?: number; status?: string } = {}): RunRecord[] {
    const limit = Math.min(Math.max(options.limit ?? 20, 1), 500);
    const rows = options.status
      ? this.prepared(`SELECT * FROM runs WHERE owner = ? AND status = ? ORDER BY started_at DESC LIMIT ?`).all(owner, options.status, limit)
      : this.prepared(`SELECT * FROM runs WHERE owner = ? ORDER BY started_at DESC LIMIT ?`).all(owner, limit);
    return (rows as Row[]).map(toRecord);
  }

  /** Delete finished runs older than `ttlMs`; returns how many. */
  purgeFinishedBefore(ttlMs: number): number {
    const cutoff = new Date(Date.now() - ttlMs).toISOString();
    const purged = this.prepared(`DELETE FROM runs WHERE finished_at IS NOT NULL AND finished_at < ?`).run(cutoff).changes;
    if (purged) this.writes++;
    return purged;
  }

  close(): void {
    this.db.close();
  }
}

function toRecord(row: Row): RunRecord {
  return {
    run_id: row.run_id,
    process_id: row.process_id,
    kind: row.kind,
    owner: row.owner,
    profile: row.profile,
    summary: row.summary,
    status: row.status as RunRecord['status'],
    exit_code: row.exit_code,
    started_at: row.started_at,
    finished_at: row.finished_at,
    duration_ms: row.duration_ms,
    error: row.error,
    trace_id: row.trace_id ?? null,
    task_id: row.task_id ?? null,
    engine: row.engine ?? null,
    // A result stored before results named their OCI runtime (kept for CAPSULE_RESULT_TTL) says "unknown".
    result: row.result_json ? withRuntime(JSON.parse(row.result_json) as Partial<RunResult>) : null,
  };
}

function withRuntime(result: Partial<RunResult>): RunResult {
  return { ...result, runtime: result.runtime ?? 'unknown' } as RunResult;
}
