/**
 * runc against gVisor (runsc) through Capsule itself: `npx tsx bench/runtimes.ts [--rounds 3]`
 * (`npm run build` first; the engine needs runsc: `make engine`). One `capsule serve` with four
 * profiles made from the shipped default.yaml and gvisor.yaml (each runtime warm, pool 2, and cold,
 * pool 0), called with the MCP SDK's Client over Streamable HTTP. The workloads run in rounds,
 * the two runtimes alternating (which goes first swaps every round), so load from other work on the
 * machine falls on both. Figures, not assertions; results in README "Runtimes".
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { projectRoot } from '../server/version.js';
import { httpClient } from '../test/helpers/mcp-client.js';
import { startServer } from '../test/helpers/server-process.js';
import { summarize, table } from './stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '10' } } });
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const RUNTIMES = [{ label: 'runc', file: 'default' }, { label: 'gvisor', file: 'gvisor' }] as const;
type Label = (typeof RUNTIMES)[number]['label'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...a: unknown[]) => console.error('[bench]', ...a);
/** What failed calls said (first 200 characters each, deduplicated). */
const errorTexts = new Set<string>();

interface Result { run_id: string; exit_code: number | null; status: string; stdout: string; stdout_bytes: number; duration_ms: number; runtime: string; stats: { cpu_ms: number | null } }
type Client = Awaited<ReturnType<typeof httpClient>>;

/** 20 M iterations of a pure-Python loop: interpreter work, few system calls. */
const CPU_LOOP = 's = 0\nfor i in range(20_000_000):\n    s += i * i\nprint(s)';
/** git init, 1,000 small files written by the shell, git add and commit: many opens, stats and small writes (in /workspace: the run's tmpfs, or a workspace volume). */
const FILES = 'rm -rf w && mkdir w && cd w && git init -q && i=0; while [ $i -lt 1000 ]; do echo "file $i" > f$i.txt; i=$((i+1)); done; git add -A && git -c user.email=b@b -c user.name=b commit -qm files && git ls-files | wc -l';
/** The same 100 MB as bench/run.ts: printable lines, the result capped (head and tail kept, every byte counted). */
const STREAM = 'yes "capsule streaming benchmark 0123456789abcdefghijklmnopqrstuvwxyz" | head -c 100000000';

function profilesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-bench-runtimes-'));
  const shipped = (file: string) => parse(readFileSync(join(projectRoot, 'sandbox-profiles', `${file}.yaml`), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'default.yaml'), stringify({ ...shipped('default'), pool: { size: 0, max_idle_s: 300 } }));
  for (const rt of RUNTIMES) {
    writeFileSync(join(dir, `${rt.label}-warm.yaml`), stringify({ ...shipped(rt.file), pool: { size: 2, max_idle_s: 300 } }));
    writeFileSync(join(dir, `${rt.label}-cold.yaml`), stringify({ ...shipped(rt.file), pool: { size: 0, max_idle_s: 300 } }));
  }
  return dir;
}

async function run(c: Client, tool: 'run_command' | 'run_code', args: Record<string, unknown>): Promise<{ r: Result; wallMs: number }> {
  const t = performance.now();
  const res = await c.call<Result>(tool, { timeout_ms: 120_000, ...args });
  const wallMs = performance.now() - t;
  if (res.result.isError && !res.s) throw new Error(`${tool} failed: ${res.text}`);
  if (res.s.exit_code !== 0) throw new Error(`${tool} exited ${res.s.exit_code} (${res.s.status}): ${res.text.slice(0, 300)}`);
  return { r: res.s, wallMs };
}

async function handedOut(c: Client, profile: string): Promise<number> {
  const info = await c.call<{ pool_state: Record<string, { handed_out: number }> }>('system_info');
  return info.s.pool_state[profile]?.handed_out ?? 0;
}

/** Samples of one round of every workload for one runtime. */
async function round(c: Client, url: URL, label: Label, acc: Record<string, number[]>, runtimeSeen: Set<string>) {
  const push = (k: string, v: number) => (acc[`${label}:${k}`] ??= []).push(v);
  const warm = `${label}-warm`;
  await sleep(3000); // the pool refilled after the last round's throughput
  const before = await handedOut(c, warm);
  for (let i = 0; i < 8; i++) {
    const { r, wallMs } = await run(c, 'run_command', { profile: warm, command: 'echo hi' });
    runtimeSeen.add(`${label}=${r.runtime}`);
    push('warm_ms', wallMs);
    await sleep(1500); // a gVisor refill takes ~1 s here: the next call should find a warm container
  }
  push('warm_hits', (await handedOut(c, warm)) - before);
  for (let i = 0; i < 5; i++) push('cold_ms', (await run(c, 'run_command', { profile: `${label}-cold`, command: 'echo hi' })).wallMs);

  const end = Date.now() + SECONDS * 1000;
  let ok = 0;
  const times: number[] = [];
  await Promise.all(Array.from({ length: 8 }, async () => {
    const client = await httpClient(url);
    while (Date.now() < end) {
      const t = performance.now();
      const res = await client.call<Result>('run_command', { profile: warm, command: 'echo hi' }).catch((err: Error) => ({ s: null, text: err.message }));
      if (res.s?.stdout === 'hi\n') {
        ok++;
        times.push(performance.now() - t);
      } else {
        push('tp_errors', 1);
        errorTexts.add(res.text.slice(0, 200));
      }
    }
    await client.client.close();
  }));
  push('tp_runs_s', ok / SECONDS);
  times.forEach((x) => push('tp_ms', x));

  const cpu = await run(c, 'run_code', { profile: `${label}-cold`, language: 'python', code: CPU_LOOP });
  push('cpu_run_ms', cpu.r.duration_ms);
  push('cpu_cpu_ms', cpu.r.stats.cpu_ms ?? NaN);
  const files = await run(c, 'run_command', { profile: `${label}-cold`, command: FILES });
  if (files.r.stdout.trim() !== '1000') throw new Error(`file workload: ${files.r.stdout}`);
  push('files_run_ms', files.r.duration_ms);
  // The same in a workspace: a quota'd volume, which gVisor reaches through its gofer.
  const ws = (await c.call<{ workspace_id: string }>('create_workspace')).s.workspace_id;
  try {
    const inWs = await run(c, 'run_command', { profile: `${label}-cold`, command: FILES, workspace_id: ws });
    if (inWs.r.stdout.trim() !== '1000') throw new Error(`file workload in a workspace: ${inWs.r.stdout}`);
    push('files_ws_run_ms', inWs.r.duration_ms);
  } finally {
    await c.call('delete_workspace', { workspace_id: ws });
  }
  const stream = await run(c, 'run_command', { profile: `${label}-cold`, command: STREAM });
  if (stream.r.stdout_bytes !== 100_000_000) throw new Error(`stream: ${stream.r.stdout_bytes} bytes`);
  push('stream_mb_s_wall', 100 / (stream.wallMs / 1000));
  push('stream_mb_s_run', 100 / (stream.r.duration_ms / 1000));
}

const med = (xs: number[] = []) => summarize(xs.filter((x) => !Number.isNaN(x))).p50;
const r1 = (x: number) => Math.round(x * 10) / 10;

function report(acc: Record<string, number[]>) {
  const row = (what: string, key: string, unit: string, lowerIsBetter = true) => {
    const [a, b] = [med(acc[`runc:${key}`]), med(acc[`gvisor:${key}`])];
    const ratio = lowerIsBetter ? b / a : a / b;
    return { workload: what, unit, runc: r1(a), gvisor: r1(b), 'gvisor cost': `${r1(ratio)}x` };
  };
  const tp = (l: Label) => summarize(acc[`${l}:tp_ms`] ?? []);
  return [
    row('echo, warm pool (p50)', 'warm_ms', 'ms'),
    row('echo, cold path (p50)', 'cold_ms', 'ms'),
    row('8 clients, echo (per round)', 'tp_runs_s', 'runs/s', false),
    { workload: '8 clients, echo (p95)', unit: 'ms', runc: tp('runc').p95, gvisor: tp('gvisor').p95, 'gvisor cost': `${r1(tp('gvisor').p95 / tp('runc').p95)}x` },
    row('Python loop, 20 M iterations (run)', 'cpu_run_ms', 'ms'),
    row('Python loop, cpu_ms as reported', 'cpu_cpu_ms', 'ms'),
    row('git init + 1,000 files + commit (run)', 'files_run_ms', 'ms'),
    row('the same in a workspace volume (run)', 'files_ws_run_ms', 'ms'),
    row('100 MB stdout, end to end', 'stream_mb_s_wall', 'MB/s', false),
    row('100 MB stdout, while it ran', 'stream_mb_s_run', 'MB/s', false),
  ];
}

async function conditions() {
  const { stdout } = await promisify(execFile)('docker', ['ps', '-q']);
  const { stdout: runsc } = await promisify(execFile)('runsc', ['--version']).catch(() => ({ stdout: 'runsc: not on PATH' }));
  return { at: new Date().toISOString(), loadavg: loadavg().map(r1), containers_running: stdout.split('\n').filter(Boolean).length, runsc: runsc.split('\n')[0] };
}

async function main() {
  const start = await conditions();
  const dir = profilesDir();
  const server = await startServer({ CAPSULE_PROFILES_DIR: dir, CAPSULE_LOG_LEVEL: 'error' });
  const acc: Record<string, number[]> = {};
  const seen = new Set<string>();
  try {
    const c = await httpClient(server.url);
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 === 0 ? RUNTIMES : [...RUNTIMES].reverse();
      for (const rt of order) {
        log(`round ${i + 1}/${ROUNDS}: ${rt.label}`);
        await round(c, server.url, rt.label, acc, seen);
      }
    }
    await c.client.close();
  } catch (err) {
    // What the server said before a failure (its exit code if it died): a bench failure is a finding.
    log(`failed: server exit code ${server.child.exitCode} signal ${server.child.signalCode}; its stderr:\n${server.stderr().slice(-4000)}`);
    throw err;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const end = await conditions();
  console.log(`\n${ROUNDS} rounds, runtimes alternating; ${availableParallelism()} CPUs (${cpus()[0]?.model}); ${start.runsc}; runtimes seen: ${[...seen].join(', ')}`);
  console.log(`start ${start.at} load ${start.loadavg.join('/')} (${start.containers_running} containers running); end ${end.at} load ${end.loadavg.join('/')} (${end.containers_running})`);
  console.log(`warm hits (of 8 per round): runc ${acc['runc:warm_hits']?.join(', ')}; gvisor ${acc['gvisor:warm_hits']?.join(', ')}; throughput errors: runc ${acc['runc:tp_errors']?.length ?? 0}, gvisor ${acc['gvisor:tp_errors']?.length ?? 0}`);
  if (errorTexts.size) console.log(`throughput errors said: ${[...errorTexts].join(' | ')}`);
  console.log(`per round: ${JSON.stringify(Object.fromEntries(Object.entries(acc).filter(([k]) => !/tp_ms|warm_ms|cold_ms/.test(k)).map(([k, v]) => [k, v.map(r1)])))}\n`);
  console.log(table(report(acc)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
