import test from 'ava';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../server/store/run-store.js';
import type { RunResult } from '../../server/sandbox/runs/run-result.js';
import { EMPTY_STATS } from '../../server/sandbox/runs/run-stats.js';

const result = (run_id: string): RunResult => ({
  run_id, status: 'exited', exit_code: 0, signal: null, stdout: 'out', stderr: '', stdout_bytes: 3, stderr_bytes: 0,
  truncated: false, duration_ms: 5, profile: 'default', image: 'img', runtime: 'runc', stats: EMPTY_STATS,
});

test('records runs per owner; another owner sees nothing', (t) => {
  const store = RunStore.open(':memory:', 'i1');
  store.recordStarted({ run_id: 'r1', kind: 'run', owner: 'alice', profile: 'default', summary: 'echo hi' });
  store.recordFinished(result('r1'));
  store.recordStarted({ run_id: 'r2', kind: 'process', process_id: 'p2', owner: 'alice', profile: 'default', summary: 'sleep' });
  t.is(store.get('r1', 'alice')?.result?.stdout, 'out');
  t.is(store.get('r1', 'bob'), null);
  t.deepEqual(store.list('alice').map((r) => r.run_id).sort(), ['r1', 'r2']);
  t.deepEqual(store.list('alice', { status: 'running' }).map((r) => r.run_id), ['r2']);
  t.deepEqual(store.list('bob'), []);
});

test('runs in flight at a crash are marked failed for this instance only', (t) => {
  const store = RunStore.open(':memory:', 'i1');
  store.recordStarted({ run_id: 'r1', kind: 'run', owner: 'o', profile: 'default', summary: 'x' });
  t.is(store.markInterrupted('server stopped'), 1);
  const r = store.get('r1', 'o')!;
  t.is(r.status, 'failed');
  t.is(r.error, 'server stopped');
});

test('purges finished runs past the TTL', async (t) => {
  const store = RunStore.open(':memory:', 'i1');
  store.recordStarted({ run_id: 'r1', kind: 'run', owner: 'o', profile: 'default', summary: 'x' });
  store.recordFinished(result('r1'));
  await new Promise((r) => setTimeout(r, 20));
  t.is(store.purgeFinishedBefore(10), 1);
  t.is(store.get('r1', 'o'), null);
});

test('records the trace id of the call that started a run; find() looks up any owner\'s run by run or process id', (t) => {
  const store = RunStore.open(':memory:', 'i1');
  store.recordStarted({ run_id: 'r1', kind: 'run', owner: 'alice', profile: 'default', summary: 'x', trace_id: '0af7651916cd43dd8448eb211c80319c' });
  store.recordStarted({ run_id: 'r2', process_id: 'p2', kind: 'process', owner: 'bob', profile: 'default', summary: 'y' });
  t.is(store.get('r1', 'alice')?.trace_id, '0af7651916cd43dd8448eb211c80319c');
  t.is(store.get('r2', 'bob')?.trace_id, null);
  t.is(store.find('r1')?.owner, 'alice');
  t.is(store.find('p2')?.run_id, 'r2');
  t.is(store.find('nope'), null);
});

test('the version changes with every write, and only then (the runs list ETag)', (t) => {
  const store = RunStore.open(':memory:', 'i1');
  const v0 = store.version;
  t.is(store.version, v0, 'stable while nothing changes');
  store.recordStarted({ run_id: 'r1', kind: 'run', owner: 'o', profile: 'default', summary: 'x' });
  const v1 = store.version;
  t.not(v1, v0);
  store.recordFinished(result('r1'));
  t.not(store.version, v1);
  const v2 = store.version;
  t.is(store.purgeFinishedBefore(3_600_000), 0);
  t.is(store.version, v2, 'a purge that removed nothing is no change');
});

test('a database from before the trace_id column gets it added on open', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-store-'));
  const old = new Database(join(dir, 'capsule.db'));
  old.exec(`CREATE TABLE runs (run_id TEXT PRIMARY KEY, process_id TEXT, kind TEXT NOT NULL, instance TEXT NOT NULL, owner TEXT NOT NULL, profile TEXT NOT NULL,
    summary TEXT NOT NULL, status TEXT NOT NULL, exit_code INTEGER, started_at TEXT NOT NULL, finished_at TEXT, duration_ms INTEGER, error TEXT, result_json TEXT)`);
  old.prepare(`INSERT INTO runs (run_id, kind, instance, owner, profile, summary, status, started_at) VALUES ('old', 'run', 'i1', 'o', 'default', 'x', 'exited', ?)`).run(new Date().toISOString());
  old.close();
  const store = RunStore.open(dir, 'i1');
  t.is(store.get('old', 'o')?.trace_id, null);
  store.recordStarted({ run_id: 'new', kind: 'run', owner: 'o', profile: 'default', summary: 'x', trace_id: 'abc' });
  t.is(store.get('new', 'o')?.trace_id, 'abc');
  store.close();
});
