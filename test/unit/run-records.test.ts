import test from 'ava';
import type { PreparedRun } from '../../server/sandbox/runs/run-request.js';
import { startRecorder } from '../../server/sandbox/runs/run-records.js';
import { RunStore } from '../../server/store/run-store.js';

const job = (runId: string) => ({ runId, mode: 'run', owner: 'alice', display: 'echo hi', profile: { name: 'default' }, engine: 'default' }) as unknown as PreparedRun;

function countingStore() {
  const store = RunStore.open(':memory:', 'i1');
  let writes = 0;
  const recordStarted = store.recordStarted.bind(store);
  store.recordStarted = (r) => (writes++, recordStarted(r));
  return { store, writes: () => writes };
}

test('a cold run is recorded at once, and only once', (t) => {
  const { store, writes } = countingStore();
  const record = startRecorder(store, job('r_cold'), {}, false);
  t.is(store.get('r_cold', 'alice')?.status, 'running');
  record();
  record();
  t.is(writes(), 1);
});

test('a warm run is recorded when its job is handed over (the first call), and only once', (t) => {
  const { store, writes } = countingStore();
  const record = startRecorder(store, job('r_warm'), { taskId: 'task_1' }, true);
  t.is(store.get('r_warm', 'alice'), null, 'not before the handover');
  record();
  const r = store.get('r_warm', 'alice');
  t.is(r?.status, 'running');
  t.is(r?.profile, 'default');
  record();
  t.is(writes(), 1);
});
