/**
 * The egress proxy as Capsule runs it (bench/egress.ts calls this with its world: an outside network
 * and an upstream serving /100m): real services on the real engine, cold path (CAPSULE_POOL=0), three
 * profiles — default (no network), an egress profile (its runs through Capsule's proxy) and a networked
 * profile attached to the outside network directly (a plain bridge, no proxy).
 *   per-run cost   `true` end to end (runCommand), and the parts an egress run adds: registration with
 *                  the proxy (registry write) before the create, and the wait for its last log lines
 *   throughput     a 100 MB download with curl, through the proxy (HTTP; HTTPS spliced) and over the
 *                  plain bridge; rounds interleave the paths
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEgress } from '../server/egress/egress-schema.js';
import type { ContainerRuntime } from '../server/runtime/container-runtime.js';
import type { Services } from '../server/services.js';
import { realServices, shippedProfile } from '../test/helpers/engine.js';
import { summarize, table } from './stats.js';

export interface CapsuleWorld {
  /** The outside network (the upstream is on it, reached by the names up-http and up-https). */
  outside: string;
  caPem: string;
  instance: string;
}

/** create + start time of each run container (kind run), by its run id, while the services run. */
function timeRunContainers(runtime: ContainerRuntime): Map<string, number> {
  const byRun = new Map<string, number>();
  const runOf = new Map<string, string>();
  const create = runtime.create.bind(runtime);
  const start = runtime.start.bind(runtime);
  runtime.create = async (spec, options) => {
    const t = performance.now();
    const id = await create(spec, options);
    if (spec.labels['capsule.kind'] === 'run') {
      runOf.set(id, spec.labels['capsule.run_id']!);
      byRun.set(spec.labels['capsule.run_id']!, performance.now() - t);
    }
    return id;
  };
  runtime.start = async (id, options) => {
    const t = performance.now();
    await start(id, options);
    const run = runOf.get(id);
    if (run) byRun.set(run, (byRun.get(run) ?? 0) + performance.now() - t);
  };
  return byRun;
}

async function perRun(services: Services, rounds: number) {
  const wall: Record<string, number[]> = { default: [], egress: [] };
  const register: number[] = [];
  const summary: number[] = [];
  const egress = services.egress!;
  const lease = egress.lease.bind(egress);
  egress.lease = async (runId, profile) => {
    const t = performance.now();
    const held = await lease(runId, profile);
    register.push(performance.now() - t);
    return {
      ...held,
      summary: async () => {
        const s = performance.now();
        const out = await held.summary();
        summary.push(performance.now() - s);
        return out;
      },
    };
  };
  const containers = timeRunContainers(services.runtime);
  const createStart: Record<string, number[]> = { default: [], egress: [] };
  for (let i = 0; i < rounds * 4; i++) {
    for (const [key, profile] of [['default', 'default'], ['egress', 'bench-egress']] as const) {
      const t = performance.now();
      const r = await services.sandbox.runCommand({ profile, command: 'true' });
      if (r.status !== 'exited') throw new Error(`${profile}: ${JSON.stringify(r)}`);
      wall[key]!.push(performance.now() - t);
      createStart[key]!.push(containers.get(r.run_id) ?? NaN);
    }
  }
  return [
    { what: 'default profile: run_command `true`, end to end', ...summarize(wall.default!) },
    { what: '  its create + start', ...summarize(createStart.default!) },
    { what: 'egress profile: run_command `true`, end to end', ...summarize(wall.egress!) },
    { what: '  its create + start (on the internal network, CA volume mounted)', ...summarize(createStart.egress!) },
    { what: '  registration with the proxy (registry write, before the create)', ...summarize(register) },
    { what: '  wait for the proxy\'s last log lines (after the exit)', ...summarize(summary) },
  ];
}

async function throughput(services: Services, world: CapsuleWorld, rounds: number) {
  const paths = [
    { path: 'HTTP, plain bridge (networked profile, no proxy)', profile: 'bench-bridge', url: 'http://up-http:8000/100m' },
    { path: 'HTTP, through Capsule\'s egress proxy', profile: 'bench-egress', url: 'http://up-http:8000/100m' },
    { path: 'HTTPS, plain bridge (networked profile, no proxy)', profile: 'bench-bridge', url: 'https://up-https:8443/100m' },
    { path: 'HTTPS, through Capsule\'s egress proxy (spliced)', profile: 'bench-egress', url: 'https://up-https:8443/100m' },
  ];
  const speeds = new Map<string, number[]>(paths.map((p) => [p.path, []]));
  for (let r = 0; r < rounds; r++) {
    for (const p of paths) {
      // The bridge path trusts the upstream's test CA itself; egress runs have it in the proxy's bundle.
      const trust = p.profile === 'bench-bridge' ? 'printf "%s\\n" "$TEST_CA" > /tmp/ca.pem && export CURL_CA_BUNDLE=/tmp/ca.pem && ' : '';
      const res = await services.sandbox.runCommand({ profile: p.profile, command: `${trust}curl -sS -o /dev/null -w '%{speed_download} %{size_download}' ${p.url}`, env: { TEST_CA: world.caPem } });
      const [speed, size] = res.stdout.trim().split(' ').map(Number);
      if (size !== 100_000_000) throw new Error(`${p.path}: ${res.stdout} ${res.stderr}`);
      speeds.get(p.path)!.push((speed as number) / 1e6);
    }
  }
  return paths.map((p) => {
    const s = speeds.get(p.path)!;
    return { path: p.path, 'MB/s p50': Math.round(summarize(s).p50), min: Math.round(Math.min(...s)), max: Math.round(Math.max(...s)) };
  });
}

/** Measure through Capsule's own services, then dispose them (the proxy and its world go with them). */
export async function measureThroughCapsule(world: CapsuleWorld, rounds: number): Promise<void> {
  const caFile = join(mkdtempSync(join(tmpdir(), 'capsule-bench-ca-')), 'ca.pem');
  writeFileSync(caFile, world.caPem);
  const cold = { pool: { size: 0, maxIdleMs: 60_000 } };
  const profiles = [
    shippedProfile(cold),
    shippedProfile({ ...cold, name: 'bench-egress', egress: parseEgress({ allow: ['up-http:8000', 'up-https:8443'] }) }),
    shippedProfile({ ...cold, name: 'bench-bridge', network: world.outside }),
  ];
  const services = realServices({
    profiles,
    instance: world.instance,
    env: { CAPSULE_POOL: '0', CAPSULE_ALLOW_NETWORK_PROFILES: '1', CAPSULE_EGRESS_NETWORK: world.outside, CAPSULE_EGRESS_UPSTREAM_CA: caFile },
  });
  try {
    const t = performance.now();
    await services.start();
    console.log(`\nthrough Capsule (real services, cold path; start-up with the proxy took ${Math.round(performance.now() - t)} ms)`);
    console.log('per-run cost (ms):');
    console.log(table(await perRun(services, rounds)));
    console.log('\n100 MB download in a run (curl):');
    console.log(table(await throughput(services, world, rounds)));
  } finally {
    await services[Symbol.asyncDispose]();
  }
}
