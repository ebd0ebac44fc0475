/**
 * A profile naming an OCI runtime the engine lacks, marked `optional: true` (as the shipped gvisor
 * profile is): the real server starts anyway, lists it disabled with the reason, refuses calls to it
 * before any container exists, and still serves the other profiles. (An operator profile without
 * `optional` stops start-up instead: test/integration/profiles.test.ts.)
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../server/version.js';
import { containersLeft } from '../helpers/engine.js';
import { serverForThisFile } from '../helpers/file-server.js';
import { httpClient } from '../helpers/mcp-client.js';

const shipped = (file: string) => readFileSync(join(projectRoot, 'sandbox-profiles', `${file}.yaml`), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'capsule-optional-runtime-'));
writeFileSync(join(dir, 'default.yaml'), shipped('default'));
// gvisor.yaml with a runtime no engine here has: Kata's shim name.
writeFileSync(join(dir, 'kata.yaml'), shipped('gvisor').replace(/^runtime: runsc$/m, 'runtime: io.containerd.kata.v2'));
const server = serverForThisFile({ CAPSULE_PROFILES_DIR: dir }, async () => rmSync(dir, { recursive: true, force: true }));

interface Listed { profiles: Array<{ name: string; enabled: boolean; disabled_reason?: string; runtime: string }> }

test('an optional profile whose runtime the engine lacks is listed disabled with the reason and refused; the rest work', async (t) => {
  t.regex(readFileSync(join(dir, 'kata.yaml'), 'utf8'), /^runtime: io\.containerd\.kata\.v2$/m, 'the test profile names the missing runtime');
  const { call, client } = await httpClient(server().url);
  t.teardown(() => client.close());
  const listed = await call<Listed>('list_profiles');
  const kata = listed.s.profiles.find((p) => p.name === 'kata');
  t.is(kata?.enabled, false);
  t.is(kata?.runtime, 'io.containerd.kata.v2');
  t.regex(kata?.disabled_reason ?? '', /^profile "kata" needs the OCI runtime "io\.containerd\.kata\.v2", which the engine does not offer \(it has: [^)]*runc[^)]*\): register it in the engine's daemon\.json/);
  t.is(listed.s.profiles.find((p) => p.name === 'default')?.enabled, true);

  const refused = await call('run_command', { profile: 'kata', command: 'echo never' });
  t.true(refused.result.isError);
  t.regex(refused.text, /^forbidden: profile "kata" needs the OCI runtime "io\.containerd\.kata\.v2"/);
  const code = await call('run_code', { profile: 'kata', language: 'python', code: 'print(1)' });
  t.regex(code.text, /^forbidden: profile "kata" needs the OCI runtime/);
  t.deepEqual(await containersLeft({ 'capsule.instance': server().instance, 'capsule.profile': 'kata' }, 0), [], 'no container for the refused profile');

  const ok = await call<{ exit_code: number; stdout: string; runtime: string }>('run_command', { command: 'echo served' });
  t.is(ok.s.stdout, 'served\n');
  t.is(ok.s.runtime, 'runc');
  const ready = await fetch(`${server().base}/readyz`);
  t.is(ready.status, 200, 'a disabled optional profile does not make the server unready');
});
