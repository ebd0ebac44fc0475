/**
 * Warm `echo hi` over MCP HTTP on several servers at once, calls interleaved round-robin so load from
 * other work hits every variant alike. Each variant is `name:ENV=V,ENV=V` (optionally `@path/to/cli.js`
 * for another build). Figures, not assertions.
 *   npx tsx bench/warm-ab.ts --n 40 --variant base: --variant traced:OTEL_EXPORTER_OTLP_ENDPOINT=sink
 * `sink` is replaced by a local OTLP sink's URL.
 */
import { parseArgs } from 'node:util';
import { httpClient } from '../test/helpers/mcp-client.js';
import { startServer } from '../test/helpers/server-process.js';
import { startSinkProcess } from './otlp-sink.js';
import { cpuMs, summarize, table } from './stats.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '40' }, gap: { type: 'string', default: '400' }, variant: { type: 'string', multiple: true, default: ['base:'] } } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const sink = await startSinkProcess();
  const variants = await Promise.all(
    values.variant!.map(async (spec) => {
      const [head, cli] = spec.split('@');
      const [name, envs] = [head!.slice(0, head!.indexOf(':')), head!.slice(head!.indexOf(':') + 1)];
      const env: Record<string, string> = { CAPSULE_LOG_LEVEL: 'error' };
      for (const kv of envs.split(',').filter(Boolean)) {
        const i = kv.indexOf('=');
        env[kv.slice(0, i)] = kv.slice(i + 1) === 'sink' ? sink.url : kv.slice(i + 1);
      }
      const server = await startServer(env, cli);
      const c = await httpClient(server.url);
      await c.call('list_profiles');
      return { name, server, ...c, times: [] as number[], cpu: 0 };
    }),
  );
  await sleep(4000);
  for (const v of variants) await v.call('run_command', { command: 'echo hi' }); // first call: warm the JIT
  for (const v of variants) v.cpu = cpuMs(v.server.child.pid!);
  for (let i = 0; i < Number(values.n); i++) {
    for (const v of i % 2 ? [...variants].reverse() : variants) {
      await sleep(Number(values.gap));
      const t = performance.now();
      const r = await v.call<{ stdout: string }>('run_command', { command: 'echo hi' });
      v.times.push(performance.now() - t);
      if (r.s.stdout !== 'hi\n') throw new Error(`${v.name}: bad output ${r.text}`);
    }
  }
  // Server CPU per call (its refill and removal included): unlike latency, load from other work barely moves it.
  for (const v of variants) v.cpu = (cpuMs(v.server.child.pid!) - v.cpu) / v.times.length;
  for (const v of variants) {
    await v.client.close();
    await v.server.stop();
  }
  const exported = await sink.close();
  console.log(table(variants.map((v) => ({ variant: v.name, ...summarize(v.times), server_cpu_ms_per_call: Math.round(v.cpu * 10) / 10 }))));
  console.log(`OTLP sink received ${exported.requests} requests`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
