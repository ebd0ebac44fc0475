/**
 * What an idle MCP session costs the server: `npx tsx bench/sessions.ts [--sessions 500] [--streams]`
 * (run `npm run build` first: it starts the built CLI). Opens sessions with raw initialize POSTs, as
 * the flood that found the bug did (initialize and never close), and reads the server's heap and RSS
 * after two full GCs at several counts; the per-session cost is the least-squares slope. With
 * --streams it then holds one GET SSE stream open on every session and measures again.
 * Figures, not assertions.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { projectRoot } from '../server/version.js';
import { startServer, type RunningServer } from '../test/helpers/server-process.js';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '500' }, streams: { type: 'boolean', default: false } } });
const total = Number(values.sessions);
const log = (...a: unknown[]) => console.error('[bench:sessions]', ...a);
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

interface Memory {
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

/** Ask the preloaded probe (bench/memory-probe.cjs) for memory after two full GCs. */
function probe(server: RunningServer): Promise<Memory> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error('the memory probe did not answer in 10 s')), 10_000);
    const onData = (d: Buffer) => {
      seen += d.toString();
      const m = /capsule-bench-memory (\{.*\})\n/.exec(seen);
      if (!m) return;
      clearTimeout(timer);
      server.child.stderr!.off('data', onData);
      resolve(JSON.parse(m[1]!) as Memory);
    };
    server.child.stderr!.on('data', onData);
    server.child.kill('SIGUSR2');
  });
}

/** One raw initialize POST; resolves with the session id once the answer is read. */
async function initialize(url: URL): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
  });
  const text = await res.text();
  const id = res.headers.get('mcp-session-id');
  if (res.status !== 200 || !id) throw new Error(`initialize answered ${res.status}: ${text.slice(0, 300)}`);
  return id;
}

/** Open `n` sessions, 8 at a time. */
async function openSessions(url: URL, n: number, into: string[]): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) into.push(await initialize(url));
    }),
  );
}

/** Hold a GET SSE stream open on every session; resolves once each has its headers. */
async function holdStreams(url: URL, ids: string[], signal: AbortSignal): Promise<number> {
  const statuses = await Promise.all(
    ids.map(async (id) => {
      const res = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': id, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION }, signal });
      return res.status;
    }),
  );
  return statuses.filter((s) => s === 200).length;
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxy / sxx;
}

const kb = (bytes: number) => Math.round(bytes / 102.4) / 10;
const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;

async function main(): Promise<void> {
  const server = await startServer({
    CAPSULE_LOG_LEVEL: 'error',
    CAPSULE_POOL: '0',
    CAPSULE_MAX_SESSIONS: String(total + 100),
    CAPSULE_OWNER_MAX_SESSIONS: String(total + 100),
    NODE_OPTIONS: `--expose-gc --require ${join(projectRoot, 'bench', 'memory-probe.cjs')}`,
  });
  const ids: string[] = [];
  try {
    // Warm-up: the first sessions pay for lazily loaded code and JIT, not per-session state.
    await openSessions(server.url, 20, ids);
    const base = await probe(server);
    const steps = [0.25, 0.5, 0.75, 1].map((f) => Math.round(f * total));
    const heap: Array<[number, number]> = [[0, base.heapUsed + base.external]];
    const rss: Array<[number, number]> = [[0, base.rss]];
    console.log('| idle sessions | heap + external MB | RSS MB |');
    console.log('|---|---|---|');
    console.log(`| 0 (after 20 warm-up) | ${mb(base.heapUsed + base.external)} | ${mb(base.rss)} |`);
    let opened = 0;
    for (const n of steps) {
      const started = performance.now();
      await openSessions(server.url, n - opened, ids);
      log(`${n} sessions (${n - opened} opened in ${Math.round(performance.now() - started)} ms)`);
      opened = n;
      const m = await probe(server);
      heap.push([n, m.heapUsed + m.external]);
      rss.push([n, m.rss]);
      console.log(`| ${n} | ${mb(m.heapUsed + m.external)} | ${mb(m.rss)} |`);
    }
    console.log(`\nper idle session (slope over ${total} sessions): heap ${kb(slope(heap))} KB, RSS ${kb(slope(rss))} KB`);
    console.log(`per idle session (last step / count): heap ${kb((heap.at(-1)![1] - heap[0]![1]) / total)} KB, RSS ${kb((rss.at(-1)![1] - rss[0]![1]) / total)} KB`);
    if (values.streams) {
      const controller = new AbortController();
      const held = await holdStreams(server.url, ids.slice(20), controller.signal);
      const m = await probe(server);
      const last = heap.at(-1)![1];
      console.log(`with one GET SSE stream held on each of ${held} sessions: +${kb((m.heapUsed + m.external - last) / held)} KB heap, +${kb((m.rss - rss.at(-1)![1]) / held)} KB RSS per stream`);
      controller.abort();
    }
  } finally {
    await server.stop();
  }
}

await main();
