/**
 * Capsule benchmarks: `npm run bench` (full, ~12 min) or `npm run bench -- --quick` (~3 min).
 * Prints a table and writes bench/results/<date>.json. Figures, not assertions.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { DEFAULT_SANDBOX_IMAGE, projectRoot } from '../server/version.js';
import { httpClient } from '../test/helpers/mcp-client.js';
import { startServer, type RunningServer } from '../test/helpers/server-process.js';
import { startSinkProcess } from './otlp-sink.js';
import { rawToolCaller } from './raw-mcp.js';
import { dockerRunCli, rawAttachThroughput, rawDockerode, warmJobFloor } from './references.js';
import { cpuMs, summarize, table, type LatencySummary } from './stats.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, duration: { type: 'string' } } });
const quick = values.quick ?? false;
const durationS = Number(values.duration ?? (quick ? 10 : 60));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...a: unknown[]) => console.error('[bench]', ...a);

async function withServer<T>(env: Record<string, string>, fn: (s: RunningServer) => Promise<T>): Promise<T> {
  const server = await startServer({ CAPSULE_LOG_LEVEL: 'error', ...env });
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** Sequential `echo hi` calls through MCP Streamable HTTP, `gapMs` apart (a warm pool refills in the gap). */
async function mcpLatency(server: RunningServer, n: number, gapMs: number): Promise<LatencySummary> {
  const { call, client } = await httpClient(server.url);
  await call('list_profiles');
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    await sleep(gapMs);
    const t = performance.now();
    const r = await call<{ stdout: string }>('run_command', { command: 'echo hi' });
    times.push(performance.now() - t);
    if (r.s.stdout !== 'hi\n') throw new Error(`bad output: ${r.text}`);
  }
  await client.close();
  return summarize(times);
}

/**
 * Warm `echo hi` on several servers at once, calls interleaved (the order flips every round) so load
 * from other work on the machine hits every variant alike; each round also samples the floor: a job on
 * a launcher that has waited `gapMs` for it, as a warm call's has (and, for comparison, one written
 * right after the launcher's start). The first server's calls are also timed with a minimal HTTP
 * client (`<name>_raw`): the server's own latency without the SDK client's work. The first call of
 * each server warms its JIT and is not counted.
 */
type WarmSummary = LatencySummary & { server_cpu_ms_per_call?: number };

async function warmInterleaved(servers: Record<string, RunningServer>, n: number, gapMs: number): Promise<Record<string, WarmSummary>> {
  const clients = await Promise.all(Object.entries(servers).map(async ([name, server]) => ({ name, ...(await httpClient(server.url)), times: [] as number[] })));
  for (const c of clients) await c.call('list_profiles');
  const first = clients[0]!;
  const raw = rawToolCaller(servers[first.name]!.url, first.transport.sessionId!, first.transport.protocolVersion ?? '2025-06-18');
  await sleep(3000); // the pools fill
  for (const c of clients) await c.call('run_command', { command: 'echo hi' });
  await raw.call('run_command', { command: 'echo hi' });
  const floor: number[] = [];
  const floorHot: number[] = [];
  const rawTimes: number[] = [];
  const cpu = new Map(Object.entries(servers).map(([name, s]) => [name, cpuMs(s.child.pid!)]));
  for (let i = 0; i < n; i++) {
    floor.push((await warmJobFloor(DEFAULT_SANDBOX_IMAGE, gapMs)).job);
    floorHot.push((await warmJobFloor(DEFAULT_SANDBOX_IMAGE)).job);
    for (const c of i % 2 ? [...clients].reverse() : clients) {
      await sleep(gapMs);
      const t = performance.now();
      const r = await c.call<{ stdout: string }>('run_command', { command: 'echo hi' });
      c.times.push(performance.now() - t);
      if (r.s.stdout !== 'hi\n') throw new Error(`${c.name}: bad output: ${r.text}`);
    }
    await sleep(gapMs);
    const t = performance.now();
    const r = await raw.call('run_command', { command: 'echo hi' });
    rawTimes.push(performance.now() - t);
    if (r.structuredContent?.['stdout'] !== 'hi\n') throw new Error(`raw client: bad output: ${JSON.stringify(r)}`);
  }
  // Server CPU per call (its refill and removal included): unlike latency, load from other work barely moves it.
  // The first server's figure includes its raw-client calls: per call, it counts both.
  const calls = (name: string) => (name === first.name ? 2 * n : n);
  const perCall = (name: string) => Math.round(((cpuMs(servers[name]!.child.pid!) - cpu.get(name)!) / calls(name)) * 10) / 10;
  const summaries = Object.fromEntries(clients.map((c) => [c.name, { ...summarize(c.times), server_cpu_ms_per_call: perCall(c.name) }]));
  for (const c of clients) await c.client.close();
  raw.close();
  return { floor: summarize(floor), floor_hot: summarize(floorHot), [`${first.name}_raw`]: summarize(rawTimes), ...summaries };
}

/** bench/sessions.ts in a child process: heap and RSS per idle MCP session (least-squares slope). */
async function idleSession(sessions: number): Promise<{ heap_kb: number; rss_kb: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(projectRoot, 'bench', 'sessions.ts'), '--sessions', String(sessions)], { cwd: projectRoot });
  const m = /per idle session \(slope[^)]*\): heap ([\d.]+) KB, RSS ([\d.-]+) KB/.exec(stdout);
  if (!m) throw new Error(`bench/sessions.ts printed no slope:\n${stdout}`);
  return { heap_kb: Number(m[1]), rss_kb: Number(m[2]) };
}

async function referenceLatency(n: number, fn: (image: string) => Promise<number>): Promise<LatencySummary> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await fn(DEFAULT_SANDBOX_IMAGE));
  return summarize(times);
}

/** `clients` concurrent MCP clients calling `echo hi` for `seconds`. */
async function mcpThroughput(server: RunningServer, clients: number, seconds: number) {
  const end = Date.now() + seconds * 1000;
  const times: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      // A client that cannot even connect counts as one error and tries again.
      let c: Awaited<ReturnType<typeof httpClient>> | null = null;
      while (!c && Date.now() < end) c = await httpClient(server.url).catch(() => (errors++, null));
      if (!c) return;
      const { call, client } = c;
      while (Date.now() < end) {
        const t = performance.now();
        const r = await call<{ stdout: string }>('run_command', { command: 'echo hi' }).catch(() => null);
        if (!r || r.result.isError || r.s.stdout !== 'hi\n') errors++;
        else times.push(performance.now() - t);
      }
      await client.close();
    }),
  );
  return { clients, runs_per_s: Math.round((times.length / seconds) * 100) / 100, ok: times.length, errors, p95_ms: summarize(times).p95 };
}

async function rawChurn(concurrency: number, seconds: number) {
  const end = Date.now() + seconds * 1000;
  let ok = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) await rawDockerode(DEFAULT_SANDBOX_IMAGE).then(() => ok++, () => errors++);
    }),
  );
  return { concurrency, runs_per_s: Math.round((ok / seconds) * 100) / 100, errors };
}

function rssMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: Math.round(kb('VmRSS')), hwm: Math.round(kb('VmHWM')) };
}

/** 100 MB of printable lines (JSON carries them as they are; NUL bytes would be escaped to 6 bytes each). */
const STREAM_COMMAND = 'yes "capsule streaming benchmark 0123456789abcdefghijklmnopqrstuvwxyz" | head -c 100000000';

/**
 * 100 MB of stdout two ways: run_command (capped result: the launcher keeps head and tail in the
 * container) and a background process (its retained log takes every byte through the attach stream).
 */
async function streaming(server: RunningServer) {
  const { call, client } = await httpClient(server.url);
  await sleep(3000); // let the pool fill: the figure is the run, not the pool's first start
  const t = performance.now();
  const r = await call<{ stdout_bytes: number; truncated: boolean; duration_ms: number }>('run_command', { command: STREAM_COMMAND });
  const wall = (performance.now() - t) / 1000;
  const p = await call<{ process_id: string }>('start_process', { command: STREAM_COMMAND });
  type Waited = { done: boolean; result: { stdout_bytes: number; duration_ms: number } | null };
  let waited: Waited = { done: false, result: null };
  for (let i = 0; i < 60 && !waited.done; i++) waited = (await call<Waited>('wait_process', { process_id: p.s.process_id, timeout_ms: 5000 })).s;
  const done = waited.result ?? { stdout_bytes: 0, duration_ms: 0 };
  await client.close();
  const mbps = (bytes: number, s: number) => Math.round(bytes / 1e6 / s);
  return {
    bytes: r.s.stdout_bytes,
    truncated: r.s.truncated,
    mb_per_s_wall: mbps(r.s.stdout_bytes, wall),
    mb_per_s_program: mbps(r.s.stdout_bytes, r.s.duration_ms / 1000),
    process_bytes: done.stdout_bytes,
    process_mb_per_s_program: done.duration_ms ? mbps(done.stdout_bytes, done.duration_ms / 1000) : 0,
  };
}

async function rssUnderLoad(server: RunningServer, concurrent: number) {
  const before = rssMb(server.child.pid!);
  let peak = before.rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(server.child.pid!).rss);
  }, 100);
  await Promise.all(
    Array.from({ length: concurrent }, async () => {
      const { call, client } = await httpClient(server.url);
      await call('run_command', { command: 'head -c 20000000 /dev/urandom | base64' });
      await client.close();
    }),
  );
  clearInterval(sampler);
  return { concurrent, rss_before_mb: before.rss, rss_peak_mb: peak, hwm_mb: rssMb(server.child.pid!).hwm };
}

const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

/** Issue 17's targets against this run's figures: what each is, the figure, its bound, met or not. */
function targetRows(t: Record<string, number>) {
  const row = (target: string, figure: number, bound: string, met: boolean) => ({ target, figure, bound, met: met ? 'yes' : 'no' });
  return [
    row('warm p50 / floor p50', t['warm_p50_vs_floor']!, '<= 2', t['warm_p50_vs_floor']! <= 2),
    row('warm p95 / floor p50', t['warm_p95_vs_floor']!, '<= 3', t['warm_p95_vs_floor']! <= 3),
    row('(server only: minimal HTTP client) warm p50 / floor p50', t['warm_raw_client_p50_vs_floor']!, '<= 2', t['warm_raw_client_p50_vs_floor']! <= 2),
    row('(server only: minimal HTTP client) warm p95 / floor p50', t['warm_raw_client_p95_vs_floor']!, '<= 3', t['warm_raw_client_p95_vs_floor']! <= 3),
    row('warm p50 / docker run CLI p50', t['warm_p50_vs_cli']!, '<= 0.05', t['warm_p50_vs_cli']! <= 0.05),
    row('tracing over OTLP, p50 over untraced (ms)', t['tracing_p50_over_ms']!, '<= 1 ms or <= 5%', t['tracing_p50_over_ms']! <= 1 || t['tracing_p50_over_pct']! <= 5),
    row('tracing over OTLP, p50 over untraced (%)', t['tracing_p50_over_pct']!, '<= 5% or <= 1 ms', t['tracing_p50_over_ms']! <= 1 || t['tracing_p50_over_pct']! <= 5),
    row('server RSS peak, 32 runs each returning 1 MiB stdout (MB)', t['rss_peak_mb']!, '<= 200', t['rss_peak_mb']! <= 200),
    row('heap per idle MCP session (KB)', t['idle_session_heap_kb']!, '<= 64', t['idle_session_heap_kb']! <= 64),
  ];
}

async function main() {
  const started = new Date();
  const machine = { cpus: availableParallelism(), cpu_model: cpus()[0]?.model ?? 'unknown', memory_gb: Math.round(totalmem() / 1024 ** 3), node: process.version };
  const nLat = quick ? 15 : 40;
  const results: Record<string, unknown> = { started: started.toISOString(), quick, duration_s: durationS, machine };

  log('reference latency: docker run --rm CLI, raw dockerode');
  const cli = await referenceLatency(quick ? 5 : 15, dockerRunCli);
  const raw = await referenceLatency(quick ? 5 : 15, rawDockerode);
  log('warm latency, interleaved: floor, untraced, traced to a local OTLP sink');
  const sink = await startSinkProcess();
  const servers = {
    pooled: await startServer({ CAPSULE_LOG_LEVEL: 'error' }),
    traced: await startServer({ CAPSULE_LOG_LEVEL: 'error', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }),
  };
  let warm: Record<string, WarmSummary>;
  try {
    warm = await warmInterleaved(servers, nLat, 400);
  } finally {
    for (const server of Object.values(servers)) await server.stop();
  }
  const exported = await sink.close();
  const { floor, floor_hot: floorHot, pooled, pooled_raw: pooledRaw, traced } = warm as Record<'floor' | 'floor_hot' | 'pooled' | 'pooled_raw' | 'traced', WarmSummary>;
  // On its own: a profiled call costs ~100 ms of server CPU, which interleaved would land on the others' calls.
  log('warm latency with CAPSULE_PROFILE_TOOLS=1');
  const profiledTools = await withServer({ CAPSULE_PROFILE_TOOLS: '1' }, async (s) => (await warmInterleaved({ profile_tools: s }, nLat, 400))['profile_tools']!);
  log('cold path');
  const cold = await withServer({ CAPSULE_POOL: '0' }, (s) => mcpLatency(s, quick ? 8 : 20, 0));
  results['latency_ms'] = { floor_warm_job: floor, floor_job_right_after_start: floorHot, pooled, pooled_raw_http_client: pooledRaw, cold, docker_run_cli: cli, raw_dockerode: raw };

  log(`throughput for ${durationS}s at 1, 8, 32 clients and raw dockerode churn at 8`);
  const throughput = await withServer({}, async (s) => {
    const rows = [];
    for (const clients of [1, 8, 32]) {
      rows.push(await mcpThroughput(s, clients, durationS));
      await sleep(2000);
    }
    return rows;
  });
  const churn = await rawChurn(8, durationS);
  results['throughput'] = { capsule: throughput, raw_dockerode_churn: churn };

  log('streaming 100 MB and server RSS with 32 concurrent runs');
  const stream = await withServer({}, streaming);
  const rawAttach = Math.round(await rawAttachThroughput(DEFAULT_SANDBOX_IMAGE));
  const rss = await withServer({ CAPSULE_POOL: '0' }, (s) => rssUnderLoad(s, 32));
  results['streaming'] = { ...stream, raw_attach_mb_per_s: rawAttach };
  results['memory'] = rss;
  log('idle MCP sessions (bench/sessions.ts)');
  const session = await idleSession(quick ? 200 : 500);
  results['idle_session'] = session;
  results['overheads'] = { tracing_off: pooled, tracing_on: traced, otlp_export_requests: exported.requests, profile_tools_on: profiledTools };

  const lat = [
    { path: 'floor: job on a launcher waiting 400 ms, until its exit frame (engine only)', ...floor },
    { path: 'the same job written right after the launcher starts', ...floorHot },
    { path: 'Capsule warm pool (MCP HTTP, SDK client)', ...pooled },
    { path: 'warm pool, minimal HTTP client (server only)', ...pooledRaw },
    { path: 'warm pool, traces exported over OTLP', ...traced },
    { path: 'warm pool, CAPSULE_PROFILE_TOOLS=1 (own phase)', ...profiledTools },
    { path: 'Capsule cold (MCP HTTP)', ...cold },
    { path: 'docker run --rm (CLI)', ...cli },
    { path: 'raw dockerode create/start/wait/remove', ...raw },
  ];
  const targets = {
    warm_p50_vs_floor: ratio(pooled.p50, floor.p50),
    warm_p95_vs_floor: ratio(pooled.p95, floor.p50),
    warm_raw_client_p50_vs_floor: ratio(pooledRaw.p50, floor.p50),
    warm_raw_client_p95_vs_floor: ratio(pooledRaw.p95, floor.p50),
    warm_p50_vs_cli: ratio(pooled.p50, cli.p50),
    warm_p95_vs_cli: ratio(pooled.p95, cli.p50),
    tracing_p50_over_ms: Math.round((traced.p50 - pooled.p50) * 10) / 10,
    tracing_p50_over_pct: Math.round((traced.p50 / pooled.p50 - 1) * 1000) / 10,
    tracing_server_cpu_ms_per_call: Math.round(((traced.server_cpu_ms_per_call ?? 0) - (pooled.server_cpu_ms_per_call ?? 0)) * 10) / 10,
    rss_peak_mb: rss.rss_peak_mb,
    idle_session_heap_kb: session.heap_kb,
    cold_p50_vs_cli: ratio(cold.p50, cli.p50),
    throughput_32_vs_raw_churn: ratio((throughput[2] as { runs_per_s: number }).runs_per_s, churn.runs_per_s),
  };
  results['targets'] = targets;
  console.log(`\nMachine: ${machine.cpus} CPUs (${machine.cpu_model}), ${machine.memory_gb} GiB, Node ${machine.node}; ${started.toISOString()}\n`);
  console.log('Latency of `echo hi` (ms; warm rows and the floor interleaved in the same rounds)\n' + table(lat.map(({ path, n, p50, p95, p99 }) => ({ path, n, p50, p95, p99 }))));
  console.log(`\nThroughput (${durationS} s per level)\n` + table(throughput as Array<Record<string, number>>));
  console.log(`raw dockerode churn at concurrency 8: ${churn.runs_per_s} runs/s (${churn.errors} errors)`);
  console.log(`\nStreaming: run_command ${stream.mb_per_s_wall} MB/s end to end, ${stream.mb_per_s_program} MB/s while the program ran (100 MB, truncated result: ${stream.truncated}); background process (every byte kept) ${stream.process_mb_per_s_program} MB/s; raw engine attach: ${rawAttach} MB/s`);
  console.log(`Server RSS with 32 concurrent runs: ${rss.rss_before_mb} MB before, ${rss.rss_peak_mb} MB peak`);
  console.log(`Server CPU per warm call (refill and removal included): untraced ${pooled.server_cpu_ms_per_call} ms, traced ${traced.server_cpu_ms_per_call} ms, CAPSULE_PROFILE_TOOLS=1 ${profiledTools.server_cpu_ms_per_call} ms`);
  console.log(`Idle MCP session: heap ${session.heap_kb} KB, RSS ${session.rss_kb} KB; OTLP sink received ${exported.requests} export requests`);
  console.log('\nTargets (issue 17)\n' + table(targetRows(targets)));
  console.log('\nRatios: ' + JSON.stringify(targets));
  const file = join(projectRoot, 'bench', 'results', `${started.toISOString().slice(0, 19).replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`\nwrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
