/**
 * Soak: `npm run soak -- --runs 10000 --clients 16 [--engine-restart] [--kill-server]`.
 * A fixed mix of runs (bench/soak-cases.ts) through real MCP clients against a real server; prints
 * runs/s, counts by status, errors and wrong results, leaked containers and volumes, server RSS and
 * open sessions. Figures, not assertions; writes bench/results/soak-<date>.json.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../server/version.js';
import { httpClient } from '../test/helpers/mcp-client.js';
import { freePort } from '../test/helpers/free-port.js';
import { startServer, type RunningServer } from '../test/helpers/server-process.js';
import { soakEngine, type SoakEngine } from './soak-engine.js';
import { caseFor, type SoakResult } from './soak-cases.js';
import { MEMORY_PROBE_OPTIONS, RssSampler, heapAfterGc, openSessions, leftovers } from './soak-probes.js';
import { table } from './stats.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    clients: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '200' },
    'engine-restart': { type: 'boolean', default: false },
    'kill-server': { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const CLIENTS = Number(values.clients);
const WARMUP = Math.min(Number(values.warmup), Math.floor(RUNS / 4));
const log = (...a: unknown[]) => console.error('[soak]', ...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outage {
  at: number;
  recoveredAt: number;
}

class Tally {
  next = 0;
  done = 0;
  readonly byStatus: Record<string, number> = {};
  readonly wrong: Record<string, number> = {};
  readonly wrongSamples: string[] = [];
  /** Results that did not match their case: judged after the run, against the disruption's window. */
  readonly mismatches: Array<{ name: string; start: number; end: number; status: string; sample: string }> = [];
  readonly errors: Array<{ start: number; end: number; what: string }> = [];
  /** Every run that returned a result: its id and status, to find in the store afterwards. */
  readonly finished: Array<{ run_id: string; status: string; at: number }> = [];
}

/** One client: its own MCP session and workspace, taking run numbers until RUNS are taken. */
async function client(server: () => RunningServer, tally: Tally, onRun: () => void): Promise<void> {
  let session: Awaited<ReturnType<typeof httpClient>> | null = null;
  let workspaceId = '';
  const connect = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        session = await httpClient(server().url);
        if (!workspaceId) workspaceId = (await session.call<{ workspace_id: string }>('create_workspace', {})).s.workspace_id;
        return;
      } catch (err) {
        if (attempt > 120) throw err;
        await sleep(500);
      }
    }
  };
  await connect();
  while (tally.next < RUNS) {
    const i = tally.next++;
    const c = caseFor(i);
    const start = Date.now();
    try {
      const r = await session!.call<SoakResult & { run_id: string }>('run_command', c.args(i, workspaceId));
      if (!r.s) throw new Error(r.text.slice(0, 120));
      tally.byStatus[r.s.status] = (tally.byStatus[r.s.status] ?? 0) + 1;
      tally.finished.push({ run_id: r.s.run_id, status: r.s.status, at: Date.now() });
      const wrong = c.check(r.s, i);
      if (wrong) tally.mismatches.push({ name: c.name, start, end: Date.now(), status: r.s.status, sample: `${c.name} #${i}: ${wrong}; got ${r.s.status}/${r.s.exit_code} "${r.s.stdout.slice(0, 60)}"` });
    } catch (err) {
      tally.errors.push({ start, end: Date.now(), what: `${c.name}: ${(err as Error).message.slice(0, 160)}` });
      // End the old session if the server still knows it, so the open-session figure stays honest.
      await session!.transport.terminateSession().catch(() => undefined);
      await session!.client.close().catch(() => undefined);
      await connect();
    }
    tally.done++;
    onRun();
  }
  await session!.call('delete_workspace', { workspace_id: workspaceId }).catch(() => undefined);
  // A well-behaved client ends its session (DELETE /mcp), so open sessions at the end should be 0.
  await session!.transport.terminateSession().catch(() => undefined);
  await session!.client.close().catch(() => undefined);
}

/**
 * Results that did not match their case are wrong, except a run in flight when the engine or server
 * went away that honestly reports `failed` (the only outcome allowed then).
 */
function judge(tally: Tally, outage: Outage | null): number {
  let failedInFlight = 0;
  for (const m of tally.mismatches) {
    if (outage && m.status === 'failed' && m.start < outage.at && m.end >= outage.at) failedInFlight++;
    else {
      tally.wrong[m.name] = (tally.wrong[m.name] ?? 0) + 1;
      if (tally.wrongSamples.length < 10) tally.wrongSamples.push(m.sample);
    }
  }
  return failedInFlight;
}

/** Classify errors against the outage: in flight at its start, refused while it lasted, or plain errors. */
function classify(tally: Tally, outage: Outage | null) {
  const inFlight = outage ? tally.errors.filter((e) => e.start < outage.at && e.end >= outage.at) : [];
  const during = outage ? tally.errors.filter((e) => e.start >= outage.at && e.start <= outage.recoveredAt) : [];
  const other = tally.errors.filter((e) => !inFlight.includes(e) && !during.includes(e));
  return { inFlight, during, other };
}

/** Every finished run must still be in the store, with the status its caller saw. */
async function lostRecords(server: RunningServer, tally: Tally): Promise<{ checked: number; lost: number; changed: number }> {
  const { call, client: c, transport } = await httpClient(server.url);
  let lost = 0;
  let changed = 0;
  for (const f of tally.finished) {
    const r = await call<{ status: string }>('get_run', { run_id: f.run_id });
    if (r.result.isError || !r.s) lost++;
    else if (r.s.status !== f.status) changed++;
  }
  await transport.terminateSession();
  await c.close();
  return { checked: tally.finished.length, lost, changed };
}

async function main(): Promise<void> {
  const engine: SoakEngine = await soakEngine(values['engine-restart'] ?? false);
  const port = await freePort();
  const env = {
    ...engine.env,
    CAPSULE_PORT: String(port),
    CAPSULE_INSTANCE: `soak-${process.pid}`,
    CAPSULE_DATA_DIR: mkdtempSync(join(tmpdir(), 'capsule-soak-')),
    CAPSULE_OWNER_RUNS_PER_MINUTE: '1000000',
    CAPSULE_LOG_LEVEL: 'error',
    NODE_OPTIONS: MEMORY_PROBE_OPTIONS,
  };
  let server = await startServer(env);
  const rss = new RssSampler(() => server.child.pid!);
  rss.start();
  const tally = new Tally();
  let outage: Outage | null = null;
  let rssAfterWarmup = 0;
  let heapAfterWarmup: Promise<{ heap_used: number; rss: number } | null> = Promise.resolve(null);
  const disrupt = values['kill-server'] ? 'kill-server' : values['engine-restart'] ? 'engine-restart' : null;
  let disruption: Promise<void> | null = null;
  const started = Date.now();
  const onRun = () => {
    if (tally.done === WARMUP) {
      rssAfterWarmup = rss.current();
      heapAfterWarmup = heapAfterGc(server.child.pid!, () => server.stderr());
    }
    if (tally.done % 500 === 0) log(`${tally.done}/${RUNS} runs, ${tally.errors.length} errors, rss ${rss.current()} MB`);
    if (disrupt && !disruption && tally.done === Math.floor(RUNS / 2)) {
      disruption = (async () => {
        const at = Date.now();
        log(`disrupting: ${disrupt}`);
        if (disrupt === 'kill-server') {
          await server.stop('SIGKILL');
          server = await startServer(env);
          rss.reset();
        } else {
          await engine.restart();
        }
        outage = { at, recoveredAt: Date.now() };
        log(`recovered after ${outage.recoveredAt - at} ms`);
      })();
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, () => client(() => server, tally, onRun)));
  await disruption;
  const seconds = (Date.now() - started) / 1000;
  await sleep(5000); // idle: warm removals and refills settle, sessions are closed
  const rssEnd = rss.current();
  const heapEnd = await heapAfterGc(server.child.pid!, () => server.stderr());
  const heapWarm = await heapAfterWarmup;
  const sessions = await openSessions(server.base);
  const leftWhileUp = await leftovers(engine.host, env.CAPSULE_INSTANCE, true);
  const records = await lostRecords(server, tally);
  rss.stop();
  await server.stop();
  const leftAfterStop = await leftovers(engine.host, env.CAPSULE_INSTANCE, false);
  await engine.close();

  const { inFlight, during, other } = classify(tally, outage);
  const failedInFlight = judge(tally, outage);
  const summary = {
    runs: RUNS,
    clients: CLIENTS,
    disruption: disrupt,
    seconds: Math.round(seconds),
    runs_per_s: Math.round((tally.finished.length / seconds) * 100) / 100,
    by_status: tally.byStatus,
    errors: other.length,
    errors_in_flight_at_disruption: inFlight.length,
    errors_refused_during_outage: during.length,
    failed_in_flight_at_disruption: failedInFlight,
    error_samples: [...other, ...inFlight, ...during].slice(0, 10).map((e) => e.what),
    wrong: tally.wrong,
    wrong_samples: tally.wrongSamples,
    records,
    leaked_while_up: leftWhileUp,
    leaked_after_stop: leftAfterStop,
    rss_mb: { after_warmup: rssAfterWarmup, peak: rss.peak, end: rssEnd, end_vs_warmup: rssAfterWarmup ? Math.round((rssEnd / rssAfterWarmup) * 100) / 100 : null },
    heap_after_gc_mb: { after_warmup: heapWarm?.heap_used ?? null, end: heapEnd?.heap_used ?? null },
    open_sessions_at_end: sessions,
  };
  console.log(table([
    { figure: 'runs/s', value: summary.runs_per_s },
    { figure: 'by status', value: JSON.stringify(summary.by_status) },
    { figure: 'errors (outside a disruption)', value: summary.errors },
    { figure: 'errors in flight at the disruption / refused while down', value: `${inFlight.length} / ${during.length}` },
    { figure: 'runs in flight at the disruption that ended failed (allowed)', value: failedInFlight },
    { figure: 'wrong results', value: JSON.stringify(summary.wrong) },
    { figure: 'records lost / changed (of finished runs)', value: `${records.lost} / ${records.changed} of ${records.checked}` },
    { figure: 'leaked containers / volumes while up (pool excluded)', value: `${leftWhileUp.containers} / ${leftWhileUp.volumes}` },
    { figure: 'leaked containers / volumes after stop', value: `${leftAfterStop.containers} / ${leftAfterStop.volumes}` },
    { figure: 'server RSS MB after warm-up / peak / end', value: `${rssAfterWarmup} / ${rss.peak} / ${rssEnd}` },
    { figure: 'server heap MB after full GC, after warm-up / end', value: `${heapWarm?.heap_used ?? '?'} / ${heapEnd?.heap_used ?? '?'}` },
    { figure: 'open sessions at end', value: String(sessions) },
  ]));
  if (summary.error_samples.length) console.log('error samples:\n  ' + summary.error_samples.join('\n  '));
  if (tally.wrongSamples.length) console.log('wrong samples:\n  ' + tally.wrongSamples.join('\n  '));
  const file = join(projectRoot, 'bench', 'results', `soak-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.json`);
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
