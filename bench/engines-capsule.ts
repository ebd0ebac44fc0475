/**
 * The Capsule cases of bench/engines.ts (--capsule): Capsule's own services over 1, 2 and 3 private
 * engines, as CAPSULE_ENGINES builds them, and the cost of a placement decision alone.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../server/config.js';
import { DockerRuntime } from '../server/runtime/docker/docker-runtime.js';
import { EngineSet } from '../server/sandbox/engines/engine-set.js';
import { parseProfile, ProfileRegistry } from '../server/sandbox/profiles/profiles.js';
import { buildServices } from '../server/services.js';
import { DEFAULT_SANDBOX_IMAGE, projectRoot } from '../server/version.js';

export interface CapsuleCase {
  label: string;
  engines: number;
  /** One `true` through runCommand; resolves with the index of the engine that ran it. */
  run(): Promise<number>;
  close(): Promise<void>;
}

const source = join(projectRoot, 'sandbox-profiles', 'default.yaml');

/** Services over the first 1, 2 and 3 engines (warm pool off: every run cold, like the raw rows). */
export async function capsuleCases(engines: Array<{ name: string; host: string }>): Promise<CapsuleCase[]> {
  const profile = { ...parseProfile('default', readFileSync(source, 'utf8'), source, DEFAULT_SANDBOX_IMAGE), pool: { size: 0, maxIdleMs: 300_000 } };
  const cases: CapsuleCase[] = [];
  for (const n of [1, 2, 3]) {
    const chosen = engines.slice(0, n);
    const config = loadConfig({ CAPSULE_DATA_DIR: mkdtempSync(join(tmpdir(), 'capsule-bench-engines-')), CAPSULE_MAX_CONCURRENT: '16' });
    const services = buildServices(
      config,
      chosen.map((e) => ({ name: e.name, labels: {}, runtime: new DockerRuntime({ dockerHost: e.host, name: e.name }) })),
      pino({ level: 'silent' }),
      { profiles: ProfileRegistry.fromProfiles([profile]), instance: { name: `bench-capsule-${n}`, bootId: 'bench' }, storeDir: ':memory:' },
    );
    await services.start();
    // One untimed run per engine: the first container after a start pays for cold caches.
    for (let i = 0; i < n * 2; i++) await services.sandbox.runCommand({ command: 'true' });
    cases.push({
      label: `${n} (Capsule)`,
      engines: n,
      run: async () => {
        const r = await services.sandbox.runCommand({ command: 'true' });
        if (r.status !== 'exited' || r.exit_code !== 0) throw new Error(`run ${r.run_id} ${r.status}: ${r.error ?? r.exit_code}`);
        return chosen.findIndex((e) => e.name === r.engine);
      },
      close: async () => {
        await services[Symbol.asyncDispose]();
      },
    });
  }
  return cases;
}

/** ns per EngineSet.place() over 3 and 100 engines with live runs held (no engine is called). */
export function placementCost(): Array<Record<string, string | number>> {
  const rows: Array<Record<string, string | number>> = [];
  for (const n of [3, 100]) {
    const set = new EngineSet(
      Array.from({ length: n }, (_, i) => ({ name: `e${i}`, labels: { zone: i % 2 ? 'a' : 'b' }, runtime: new DockerRuntime({ dockerHost: `unix:///nonexistent-${i}.sock` }) })),
    );
    set.dynamic = true;
    for (const e of set.all()) e.facts = { ...e.facts, cpus: 2, memoryBytes: 4 << 30 };
    const demand = { cpus: 1, memoryBytes: 512 << 20 };
    for (const [label, request] of [['any engine', demand], ['with a label', { ...demand, labels: { zone: 'a' } }]] as const) {
      const iterations = 200_000;
      for (let i = 0; i < 10_000; i++) set.place(request);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) set.place(request).hold(demand)();
      const ns = Number(process.hrtime.bigint() - t0) / iterations;
      rows.push({ engines: n, request: label, 'ns per placement (place + hold + release)': Math.round(ns) });
    }
  }
  return rows;
}
