/**
 * What a private test engine (test/helpers/private-engine.ts) costs: `npx tsx bench/private-engine.ts`
 * (~40 s). Cold = a fresh data root (the sandbox image is loaded with docker save | docker load);
 * warm = the data root kept from before (load skipped). Figures, not assertions. Uses its own engine
 * name, whose data root it deletes first and at the end.
 */
import { removePrivateEngineData, startPrivateEngine } from '../test/helpers/private-engine.js';
import { table } from './stats.js';

const NAME = 'bench-engine';
const rows: Array<Record<string, string | number>> = [];
const timed = async (what: string, fn: () => Promise<void>) => {
  const began = performance.now();
  await fn();
  return Math.round(performance.now() - began);
};

await removePrivateEngineData(NAME);
let began = performance.now();
let engine = await startPrivateEngine(NAME);
const row = (what: string, stop: number | string) => ({
  case: what,
  'dockerd answers (ms)': engine.timings.startMs,
  'image load (ms)': engine.timings.loadMs,
  'startPrivateEngine total (ms)': Math.round(performance.now() - began),
  'stop before it (ms)': stop,
});
rows.push(row('cold (empty data root)', ''));
for (let i = 0; i < 3; i++) {
  const stop = await timed('stop', () => engine.stop());
  began = performance.now();
  engine = await startPrivateEngine(NAME);
  rows.push(row(`warm #${i + 1} (data root kept)`, stop));
}
const withContainer: number = await (async () => {
  const id = await engine.runtime.create({
    image: (await engine.runtime.listImages('capsule/sandbox'))[0]!.tags[0]!,
    cmd: ['sleep', '60'], user: '10001:10001', workdir: '/tmp', env: {}, labels: { 'capsule.bench': 'private-engine' }, openStdin: false,
    memoryBytes: 64 << 20, nanoCpus: 1e9, pidsLimit: 16, ulimits: [], tmpfs: {}, volumes: [], network: 'none', readOnlyRootfs: true,
    capDrop: ['ALL'], noNewPrivileges: true, init: true,
  });
  await engine.runtime.start(id);
  const stop = await timed('stop', () => engine.stop());
  began = performance.now();
  await engine.start();
  await engine.runtime.remove(id);
  return stop;
})();
rows.push({ ...row('restart() with a running container (dockerd SIGTERMs it)', withContainer), 'image load (ms)': '-' });
await removePrivateEngineData(NAME);
console.log(table(rows));
