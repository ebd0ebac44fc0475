import test from 'ava';
import { RunStore } from '../../server/store/run-store.js';
import type { RunResult } from '../../server/sandbox/runs/run-result.js';
import { EMPTY_STATS } from '../../server/sandbox/runs/run-stats.js';

const result = (run_id: string): RunResult => ({
  run_id, status: 'exited', exit_code: 0, signal: null, stdout: 'out', stderr: '', stdout_bytes: 3, stderr_bytes: 0,
  truncated: false, duration_ms: 5, profile: 'default', image: 'img', stats: EMPTY_STATS,
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
