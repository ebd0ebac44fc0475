import test from 'ava';
import { httpClient } from '../helpers/mcp-client.js';
import { type EngineSet, startEngines } from '../helpers/engines.js';
import { type RunningServer, startServer, startServerExpectingFailure } from '../helpers/server-process.js';

// The real `capsule serve` with CAPSULE_ENGINES over two private engines, one on its unix socket and
// one over TCP with TLS (its own cert_path: the harness's client certificate for it), through the SDK
// Client: runs go to both and name their engine, system_info and /readyz list both. The engines are
// stopped by their pid files on every path (the harness's stop, exit hook and watchdog).

const DEFS = [
  { name: 'e2e-eng-a', address: '127.0.0.11' },
  { name: 'e2e-eng-b', address: '127.0.0.12' },
];

let set: EngineSet;
let server: RunningServer;

test.before(async () => {
  set = await startEngines(DEFS, { tls: true });
  const [a, b] = set.engines;
  server = await startServer({ CAPSULE_ENGINES: `${a!.name}=${a!.host};zone=a,${b!.name}=${b!.tcpHost!};cert_path=${b!.certPath!};zone=b`, CAPSULE_POOL: '0' });
});

test.after.always(async () => {
  await server?.stop();
  await set?.stop();
});

test.serial('runs over a unix engine and a TLS engine, each result naming its engine; system_info and /readyz list both', async (t) => {
  const { client, call } = await httpClient(server.url);
  try {
    const engines = new Set<string>();
    for (let i = 0; i < 12 && engines.size < 2; i++) {
      const { s } = await call<{ status: string; stdout: string; engine: string }>('run_command', { command: `echo ${i}` });
      t.deepEqual([s.status, s.stdout], ['exited', `${i}\n`]);
      engines.add(s.engine);
    }
    t.deepEqual([...engines].sort(), DEFS.map((d) => d.name));
    const { s: info } = await call<{ engines: Array<{ name: string; endpoint: string; reachable: boolean; labels: Record<string, string>; images_present: boolean }> }>('system_info');
    t.deepEqual(info.engines.map((e) => [e.name, e.endpoint, e.reachable, e.labels['zone'], e.images_present]), [
      [DEFS[0]!.name, set.engines[0]!.host, true, 'a', true],
      [DEFS[1]!.name, set.engines[1]!.tcpHost, true, 'b', true],
    ]);
    const ready = (await (await fetch(`${server.base}/readyz`)).json()) as { status: string; engines: Array<{ name: string; can_serve: boolean }> };
    t.is(ready.status, 'ready');
    t.deepEqual(ready.engines.map((e) => [e.name, e.can_serve]), DEFS.map((d) => [d.name, true]));
  } finally {
    await client.close();
  }
});

test.serial('a bad CAPSULE_ENGINES, or both engine settings, stop the server with the problem named', async (t) => {
  const bad = await startServerExpectingFailure({ CAPSULE_ENGINES: 'a=http://127.0.0.1:2375' });
  t.not(bad.code, 0);
  t.regex(bad.stderr, /CAPSULE_ENGINES: engine "a": "http:\/\/127.0.0.1:2375" is not unix:\/\/\/path or tcp:\/\/host:port/);
  const both = await startServerExpectingFailure({ CAPSULE_ENGINES: `a=${set.engines[0]!.host}`, CAPSULE_SWARM_MANAGER: set.engines[0]!.host });
  t.not(both.code, 0);
  t.regex(both.stderr, /set CAPSULE_ENGINES or CAPSULE_SWARM_MANAGER, not both/);
});
