import test from 'ava';
import type { RunResult } from '../../server/sandbox/runs/run-result.js';
import { EMPTY_STATS } from '../../server/sandbox/runs/run-stats.js';
import { RunStore } from '../../server/store/run-store.js';
import { RunViews } from '../../server/store/run-views.js';

const finished = (run_id: string, status: RunResult['status'], profile = 'default'): RunResult => ({
  run_id, status, exit_code: status === 'exited' ? 0 : null, signal: null, stdout: 'x'.repeat(1000), stderr: '', stdout_bytes: 1000, stderr_bytes: 0,
  truncated: false, duration_ms: 5, profile, image: 'img', runtime: 'runc', stats: EMPTY_STATS,
});

function store() {
  const s = RunStore.open(':memory:', 'i1');
  s.recordStarted({ run_id: 'a1', kind: 'run', owner: 'alice', profile: 'default', summary: 'echo 1' });
  s.recordFinished(finished('a1', 'exited'));
  s.recordStarted({ run_id: 'a2', kind: 'run', owner: 'alice', profile: 'strict', summary: 'sleep 9' });
  s.recordFinished(finished('a2', 'timed_out', 'strict'));
  s.recordStarted({ run_id: 'b1', kind: 'process', process_id: 'p1', owner: 'bob', profile: 'default', summary: 'serve' });
  return s;
}

test('lists one owner\'s runs or everyone\'s, newest first, filtered, without results', (t) => {
  const views = new RunViews(store().database);
  t.deepEqual(views.list({ owner: 'alice' }).map((r) => r.run_id).sort(), ['a1', 'a2']);
  t.deepEqual(views.list({ owner: null }).map((r) => r.run_id).sort(), ['a1', 'a2', 'b1']);
  t.deepEqual(views.list({ owner: null, status: 'running' }).map((r) => r.run_id), ['b1']);
  t.deepEqual(views.list({ owner: 'alice', profile: 'strict' }).map((r) => r.run_id), ['a2']);
  t.deepEqual(views.list({ owner: 'bob', status: 'exited' }), []);
  const [row] = views.list({ owner: 'alice', limit: 1 });
  t.false('result' in row! || 'result_json' in row!, 'the list never carries results');
  t.deepEqual(Object.keys(row!).sort(), ['duration_ms', 'error', 'exit_code', 'finished_at', 'kind', 'owner', 'process_id', 'profile', 'run_id', 'started_at', 'status', 'summary', 'task_id', 'trace_id']);
});

test('facets: the profiles of the visible runs, and the owners only across everyone', (t) => {
  const views = new RunViews(store().database);
  t.deepEqual(views.facets('alice'), { profiles: ['default', 'strict'], owners: ['alice'] });
  t.deepEqual(views.facets(null), { profiles: ['default', 'strict'], owners: ['alice', 'bob'] });
});

test('runs per minute (zeros included) and outcomes by status', (t) => {
  const views = new RunViews(store().database);
  const minutes = views.startedPerMinute(null, 30);
  t.is(minutes.length, 30);
  // All three started just now (the last bucket, or the one before it when a minute just turned).
  t.is(minutes.slice(-2).reduce((n, m) => n + m.started, 0), 3);
  t.is(minutes.reduce((n, m) => n + m.started, 0), 3);
  t.regex(minutes[0]!.minute, /^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
  t.is(views.startedPerMinute('bob', 5).reduce((n, m) => n + m.started, 0), 1);
  t.deepEqual(views.outcomesSince(null, 3_600_000), { exited: 1, timed_out: 1 });
  t.deepEqual(views.outcomesSince('bob', 3_600_000), {});
});
