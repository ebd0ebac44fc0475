import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containersLeft, requireEngine } from '../helpers/engine.js';
import { httpClient } from '../helpers/mcp-client.js';
import { startServer } from '../helpers/server-process.js';

test.before(requireEngine);

interface ReadOut {
  chunks: Array<{ stream: string; data: string }>;
  next_cursor: number;
  dropped_bytes: number;
  state: string;
  exit_code: number | null;
}

test('acceptance: 1..30 read in steps without gaps or repeats; wait ends with exit 0; listed by list_runs after a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'capsule-data-'));
  const server = await startServer({ CAPSULE_DATA_DIR: dataDir });
  const { call, client } = await httpClient(server.url);
  const started = await call<{ process_id: string; run_id: string; state: string }>('start_process', { command: 'for i in $(seq 1 30); do echo $i; sleep 1; done' });
  t.is(started.s.state, 'running');
  let cursor = 0;
  let text = '';
  let reads = 0;
  for (;;) {
    const r = await call<ReadOut>('read_process_output', { process_id: started.s.process_id, cursor });
    t.is(r.s.dropped_bytes, 0);
    text += r.s.chunks.map((c) => c.data).join('');
    cursor = r.s.next_cursor;
    reads++;
    if (r.s.state !== 'running' && r.s.chunks.length === 0) break;
    await new Promise((res) => setTimeout(res, 2500));
  }
  t.true(reads >= 5, `${reads} reads`);
  t.is(text, Array.from({ length: 30 }, (_, i) => `${i + 1}\n`).join(''));
  const waited = await call<{ done: boolean; state: string; result: { exit_code: number } }>('wait_process', { process_id: started.s.process_id, timeout_ms: 5000 });
  t.true(waited.s.done);
  t.is(waited.s.result.exit_code, 0);
  await client.close();
  await server.stop();

  const again = await startServer({ CAPSULE_DATA_DIR: dataDir, CAPSULE_INSTANCE: server.instance });
  const second = await httpClient(again.url);
  const runs = await second.call<{ runs: Array<{ run_id: string; status: string; exit_code: number; kind: string }> }>('list_runs', {});
  const mine = runs.s.runs.find((r) => r.run_id === started.s.run_id);
  t.like(mine, { status: 'exited', exit_code: 0, kind: 'process' });
  const record = await second.call<{ result: { stdout: string } }>('get_run', { run_id: started.s.run_id });
  t.true(record.s.result.stdout.startsWith('1\n2\n3\n'));
  await second.client.close();
  await again.stop();
});

test('wait_process long-polls and times out; kill_process ends the process and its container', async (t) => {
  const server = await startServer();
  const { call, client } = await httpClient(server.url);
  const p = await call<{ process_id: string; run_id: string }>('start_process', { command: 'echo up; sleep 300' });
  const before = Date.now();
  const w = await call<{ done: boolean; state: string }>('wait_process', { process_id: p.s.process_id, timeout_ms: 700 });
  t.false(w.s.done);
  t.is(w.s.state, 'running');
  t.true(Date.now() - before >= 650);
  const k = await call<{ state: string }>('kill_process', { process_id: p.s.process_id });
  t.is(k.s.state, 'killed');
  t.deepEqual(await containersLeft({ 'capsule.run_id': p.s.run_id }), []);
  const listed = await call<{ processes: Array<{ process_id: string; state: string }> }>('list_processes', {});
  t.like(listed.s.processes.find((x) => x.process_id === p.s.process_id), { state: 'killed' });
  await client.close();
  await server.stop();
});

test('interactive stdin: python reads lines and answers each', async (t) => {
  const server = await startServer();
  const { call, client } = await httpClient(server.url);
  const p = await call<{ process_id: string }>('start_process', {
    language: 'python',
    code: 'import sys\nfor line in sys.stdin:\n    print("echo:", line.strip().upper(), flush=True)\nprint("bye")',
    stdin_open: true,
  });
  const readAll = async (cursor: number, want: RegExp) => {
    let text = '';
    for (let i = 0; i < 50; i++) {
      const r = await call<ReadOut>('read_process_output', { process_id: p.s.process_id, cursor });
      text += r.s.chunks.map((c) => c.data).join('');
      cursor = r.s.next_cursor;
      if (want.test(text)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    return { text, cursor };
  };
  await call('write_process_stdin', { process_id: p.s.process_id, data: 'hello\n' });
  const first = await readAll(0, /HELLO/);
  t.is(first.text, 'echo: HELLO\n');
  await call('write_process_stdin', { process_id: p.s.process_id, data: 'again\n', eof: true });
  const second = await readAll(first.cursor, /bye/);
  t.is(second.text, 'echo: AGAIN\nbye\n');
  const w = await call<{ result: { exit_code: number } }>('wait_process', { process_id: p.s.process_id, timeout_ms: 10_000 });
  t.is(w.s.result.exit_code, 0);
  await client.close();
  await server.stop();
});

test('a client that disconnects mid-process reconnects and reads the rest', async (t) => {
  const server = await startServer();
  const first = await httpClient(server.url);
  const p = await first.call<{ process_id: string }>('start_process', { command: 'for i in 1 2 3 4 5 6; do echo $i; sleep 0.4; done' });
  const part = await first.call<ReadOut>('read_process_output', { process_id: p.s.process_id, cursor: 0 });
  await first.client.close();
  await first.transport.terminateSession().catch(() => undefined);

  const second = await httpClient(server.url);
  await second.call('wait_process', { process_id: p.s.process_id, timeout_ms: 10_000 });
  const rest = await second.call<ReadOut>('read_process_output', { process_id: p.s.process_id, cursor: part.s.next_cursor });
  const whole = part.s.chunks.map((c) => c.data).join('') + rest.s.chunks.map((c) => c.data).join('');
  t.is(whole, '1\n2\n3\n4\n5\n6\n');
  t.is(rest.s.state, 'exited');
  await second.client.close();
  await server.stop();
});
