/**
 * The raw rate of fresh containers over 1, 2 and 3 private engines on this machine, the per-engine
 * figure docs/scaling.md builds its model on: `npx tsx bench/engines.ts [--seconds 5] [--rounds 3] [--tls]`
 * (~2.5 min; ~3 min with --tls).
 * One "run" is what a cold Capsule run costs the engine: create + start + wait + remove of a locked-down
 * sandbox container (sandbox image, `true`, network none, read-only root, init, every cap dropped),
 * through server/runtime/docker (DockerRuntime, as the server calls it; no attach, no launcher).
 * `concurrency` clients in total, each picking the next engine in turn. --tls adds rows for one engine
 * reached over TCP with TLS on loopback (test/helpers/engines.ts makes the CA). Every case runs once per
 * round, rounds one after another, and the table gives the median round and the slowest-fastest range:
 * other work on a shared machine moves single figures by 30% or more.
 *
 * --capsule adds the same cases through Capsule itself: buildServices over 1, 2 and 3 engines (what
 * CAPSULE_ENGINES builds: per-engine runtimes, placement, health probes), `runCommand({command: 'true'})`
 * on the shipped default profile with its warm pool off (every run cold, as the raw rows; quota'd
 * scratch volumes when the volume root is provisioned, as the server does). It also times placement
 * alone: EngineSet.place() over 3 and 100 engines (no engine call is made; ns per decision).
 *
 * The engines share this machine's CPUs (2 cores here): more engines cannot add throughput, only show
 * what spreading costs. Figures, not assertions. Engines: sw-a, sw-b, sw-c (data roots kept).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ContainerRuntime, ContainerSpec } from '../server/runtime/container-runtime.js';
import { DEFAULT_SANDBOX_IMAGE } from '../server/version.js';
import { startEngines } from '../test/helpers/engines.js';
import { capsuleCases, placementCost } from './engines-capsule.js';
import { summarize, table } from './stats.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, tls: { type: 'boolean', default: false }, capsule: { type: 'boolean', default: false } },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const CONCURRENCY = [1, 4, 8];
const labels = { 'capsule.managed': 'true', 'capsule.kind': 'bench', 'capsule.instance': 'bench-engines' };
const spec: ContainerSpec = {
  image: DEFAULT_SANDBOX_IMAGE, cmd: ['true'], user: '10001:10001', workdir: '/tmp', env: {}, labels, openStdin: false,
  memoryBytes: 256 << 20, nanoCpus: 1e9, pidsLimit: 64, ulimits: [], tmpfs: { '/tmp': { sizeBytes: 64 << 20, mode: 0o1777 } },
  volumes: [], network: 'none', readOnlyRootfs: true, capDrop: ['ALL'], noNewPrivileges: true, init: true,
};

async function oneRun(runtime: ContainerRuntime): Promise<void> {
  const id = await runtime.create(spec);
  try {
    await runtime.start(id);
    const code = await runtime.wait(id);
    if (code !== 0) throw new Error(`container ${id} exited ${code}`);
  } finally {
    await runtime.remove(id);
  }
}

/** `concurrency` loops for `seconds`, each taking the next runtime in turn; runs/s, latency, runs per engine. */
async function measure(runtimes: ContainerRuntime[], concurrency: number) {
  return measureWith(runtimes.length, concurrency, async (i) => {
    await oneRun(runtimes[i]!);
    return i;
  });
}

/** `concurrency` loops of `run(next engine index)` for `seconds`; `run` resolves with the engine that served it. */
async function measureWith(engines: number, concurrency: number, run: (i: number) => Promise<number>) {
  const latencies: number[] = [];
  const perEngine = Array.from({ length: engines }, () => 0);
  let next = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const began = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const i = next++ % engines;
      const t0 = performance.now();
      try {
        const served = await run(i);
        latencies.push(performance.now() - t0);
        perEngine[served]!++;
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = (performance.now() - began) / 1000;
  const s = summarize(latencies);
  return { rate: Math.round((latencies.length / elapsed) * 10) / 10, p50: Math.round(s.p50), p95: Math.round(s.p95), errors, perEngine };
}

type Result = Awaited<ReturnType<typeof measure>>;

/** The median round (by rate) of one case, with the range of rates and the totals. */
function summary(results: Result[]): Record<string, string | number> {
  const sorted = [...results].sort((a, b) => a.rate - b.rate);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const perEngine = results[0]!.perEngine.map((_, i) => results.reduce((sum, r) => sum + r.perEngine[i]!, 0));
  return {
    'runs/s': median.rate,
    range: `${sorted[0]!.rate}-${sorted.at(-1)!.rate}`,
    'p50 ms': median.p50,
    'p95 ms': median.p95,
    'runs per engine': perEngine.join('/'),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
  };
}

const load = () => (readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '));

const set = await startEngines([
  { name: 'sw-a', address: '127.0.0.2' },
  { name: 'sw-b', address: '127.0.0.3' },
  { name: 'sw-c', address: '127.0.0.4' },
], { tls: values.tls });
const rows: Array<Record<string, string | number>> = [];
const loadBefore = load();
try {
  const cases: Array<[string, ContainerRuntime[]]> = [1, 2, 3].map((n) => [`${n} (unix)`, set.engines.slice(0, n).map((e) => e.runtime)]);
  if (values.tls) cases.push(['1 (tcp+TLS)', [set.engines[0]!.tlsRuntime()]]);
  // One untimed round per engine: the first container after an engine starts pays for cold caches.
  for (const e of set.engines) await oneRun(e.runtime);
  const results = new Map<string, Result[]>();
  const capsule = values.capsule ? await capsuleCases(set.engines.map((e) => ({ name: e.name, host: e.host }))) : [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const [engines, runtimes] of cases) {
        for (const concurrency of CONCURRENCY) {
          const r = await measure(runtimes, concurrency);
          results.set(`${engines}|${concurrency}`, [...(results.get(`${engines}|${concurrency}`) ?? []), r]);
          console.error(`round ${round}: ${engines} c=${concurrency}: ${r.rate} runs/s`);
        }
      }
      for (const c of capsule) {
        for (const concurrency of CONCURRENCY) {
          const r = await measureWith(c.engines, concurrency, () => c.run());
          results.set(`${c.label}|${concurrency}`, [...(results.get(`${c.label}|${concurrency}`) ?? []), r]);
          console.error(`round ${round}: ${c.label} c=${concurrency}: ${r.rate} runs/s`);
        }
      }
    }
  } finally {
    for (const c of capsule) await c.close();
  }
  for (const [key, r] of results) {
    const [engines, concurrency] = key.split('|');
    rows.push({ engines: engines!, concurrency: Number(concurrency), ...summary(r) });
  }
} finally {
  await set.stop();
}
console.log(`fresh containers (create+start+wait+remove), median of ${rounds} rounds of ${seconds} s, ${DEFAULT_SANDBOX_IMAGE}; load average ${loadBefore} before, ${load()} after\n`);
console.log(table(rows));
if (values.capsule) {
  console.log('\nplacement alone (EngineSet.place, best of two by load; no engine call)\n');
  console.log(table(placementCost()));
}
