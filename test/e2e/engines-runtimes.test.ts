import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DockerRuntime } from '../../server/runtime/docker/docker-runtime.js';
import { httpClient } from '../helpers/mcp-client.js';
import { type PrivateEngine, startPrivateEngine } from '../helpers/private-engine.js';
import { type RunningServer, startServer } from '../helpers/server-process.js';

// Engines with different OCI runtimes: the first engine (a private dockerd reading an empty
// daemon.json, so it has only runc) lacks runsc, the second (the main engine) offers it. The optional
// gvisor profile is enabled because one engine offers its runtime, its runs go only there, and only
// that engine keeps a warm gvisor container: the other never tries to create one.

const MAIN = 'unix:///var/run/docker.sock';
let plain: PrivateEngine;
let server: RunningServer;

test.before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-plain-engine-'));
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  plain = await startPrivateEngine('e2e-rt-plain', { dockerdArgs: ['--config-file', join(dir, 'daemon.json')] });
  server = await startServer({ CAPSULE_ENGINES: `plain=${plain.host},main=${MAIN}` });
});

test.after.always(async () => {
  await server?.stop();
  await plain?.stop();
});

test.serial('the gvisor profile is enabled when any engine offers runsc; its runs go there and only that engine pools it', async (t) => {
  t.false((await plain.runtime.info()).runtimes.includes('runsc'), 'the first engine has no runsc');
  const { client, call } = await httpClient(server.url);
  try {
    // The other engines' runtimes come from their health probes (every second): enabled within a few.
    let gvisor: { enabled: boolean; disabled_reason?: string } | undefined;
    for (let i = 0; i < 40 && !gvisor?.enabled; i++) {
      if (i) await new Promise((r) => setTimeout(r, 250));
      const { s } = await call<{ profiles: Array<{ name: string; enabled: boolean; disabled_reason?: string }> }>('list_profiles');
      gvisor = s.profiles.find((p) => p.name === 'gvisor');
    }
    t.true(gvisor?.enabled, gvisor?.disabled_reason);
    for (let i = 0; i < 4; i++) {
      const { s } = await call<{ status: string; stdout: string; engine: string; runtime: string }>('run_command', { command: `echo ${i}`, profile: 'gvisor' });
      t.deepEqual([s.status, s.stdout, s.engine, s.runtime], ['exited', `${i}\n`, 'main', 'runsc']);
    }
    // The default profile still runs on both.
    const engines = new Set<string>();
    for (let i = 0; i < 12 && engines.size < 2; i++) engines.add((await call<{ engine: string }>('run_command', { command: 'true' })).s.engine);
    t.deepEqual([...engines].sort(), ['main', 'plain']);
    // Warm gvisor containers: on main (its pool refills), never on plain.
    const pooled = (runtime: DockerRuntime) => runtime.list({ 'capsule.instance': server.instance, 'capsule.kind': 'pool', 'capsule.profile': 'gvisor' });
    let onMain = 0;
    for (let i = 0; i < 40 && onMain === 0; i++) {
      if (i) await new Promise((r) => setTimeout(r, 250));
      onMain = (await pooled(new DockerRuntime())).length;
    }
    t.true(onMain > 0, 'main keeps a warm gvisor container');
    t.is((await pooled(plain.runtime)).length, 0, 'plain has none');
    t.notRegex(server.stderr(), /warm pool refill failed[^\n]*gvisor|gvisor[^\n]*warm pool refill failed/);
  } finally {
    await client.close();
  }
});
