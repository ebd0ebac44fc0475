import { runWatched } from '../helpers/services.js';
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../server/config.js';
import { OutputBuffer } from '../../server/sandbox/runs/output-buffer.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { SandboxService } from '../../server/sandbox/sandbox-service.js';
import { WarmPool } from '../../server/sandbox/pool/warm-pool.js';
import type { OutputChunk } from '../../server/runtime/container-runtime.js';
import { assertNoContainer, realServices, requireEngine, runtime, shippedProfile } from '../helpers/engine.js';
import { silentLog } from '../helpers/fixtures.js';

// The launcher keeps head and tail of each stream in the container (capsule-launch --cap): the result
// must be exactly what forwarding every byte would have given, while far fewer bytes cross the engine.
test.before(requireEngine);

const CAP = shippedProfile().outputMaxBytesPerStream;
/** `seq 1 N` as the program prints it. */
const seqOutput = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `${i + 1}\n`).join(''));
/** What the server's own buffer keeps when every byte reaches it. */
function expected(data: Buffer): OutputBuffer {
  const b = new OutputBuffer(CAP);
  b.write(data);
  return b;
}

function counting() {
  const seen = { stdout: 0, stderr: 0 };
  return { seen, onOutput: (c: OutputChunk) => (seen[c.stream] += c.data.length) };
}

const N = 400_000; // about 2.7 MB per stream, well over the 1 MiB cap

async function checkFlood(t: import('ava').ExecutionContext, sandbox: SandboxService) {
  const { seen, onOutput } = counting();
  const r = await runWatched(sandbox, { command: `seq 1 ${N}; seq 1 ${N} >&2; echo END` }, onOutput);
  const full = expected(seqOutput(N));
  t.is(r.status, 'exited');
  t.true(r.truncated);
  t.is(r.stderr_bytes, full.totalBytes);
  t.is(r.stderr, full.text(), 'stderr: head and tail exactly as if all had been forwarded');
  t.is(r.stdout_bytes, full.totalBytes + 4);
  t.true(r.stdout.endsWith(`${N}\nEND\n`));
  t.true(r.stdout.startsWith('1\n2\n3\n'));
  t.regex(r.stdout, new RegExp(`\\[\\.\\.\\. ${r.stdout_bytes - CAP} bytes omitted by Capsule \\.\\.\\.\\]`));
  // Only the head (a full cap, for live output) and the tail crossed the engine.
  t.true(seen.stdout <= CAP + CAP / 2, `stdout bytes forwarded: ${seen.stdout}`);
  t.true(seen.stderr <= CAP + CAP / 2, `stderr bytes forwarded: ${seen.stderr}`);
  t.true(seen.stdout >= CAP, 'the first cap of output is forwarded live');
  await assertNoContainer(t, r.run_id);
}

test('cold path: a flood is capped in the container with the same head and tail', async (t) => {
  await checkFlood(t, realServices().sandbox);
});

test('warm path: the job carries the cap to the waiting launcher', async (t) => {
  const instance = { name: `cap-${randomBytes(3).toString('hex')}`, bootId: 'itest' };
  const registry = ProfileRegistry.fromProfiles([shippedProfile({ pool: { size: 1, maxIdleMs: 300_000 } })]);
  const pool = new WarmPool({ runtime, log: silentLog, instance, profiles: registry });
  const sandbox = new SandboxService({ runtime, profiles: registry, config: loadConfig({}), log: silentLog, instance, pool });
  pool.start();
  try {
    for (let i = 0; i < 200 && (pool.sizes()['default'] ?? 0) < 1; i++) await new Promise((r) => setTimeout(r, 50));
    await checkFlood(t, sandbox);
    t.is(pool.handedOut.size, 1, 'the run took the warm container');
  } finally {
    await sandbox.shutdown();
  }
});

test('a timeout still returns the tail the launcher kept, even when the program ignores SIGTERM', async (t) => {
  const r = await realServices().sandbox.runCommand({ command: `trap "" TERM; seq 1 ${N}; echo LAST; sleep 60`, timeout_ms: 3000 });
  t.is(r.status, 'timed_out');
  t.true(r.truncated);
  t.is(r.stdout_bytes, seqOutput(N).length + 5);
  t.true(r.stdout.endsWith(`${N}\nLAST\n`), r.stdout.slice(-50));
});

test('without a kill grace the launcher forwards everything (a bare SIGKILL would lose its tail)', async (t) => {
  const { seen, onOutput } = counting();
  const r = await runWatched(realServices({ env: { CAPSULE_KILL_GRACE_MS: '0' } }).sandbox, { command: `seq 1 ${N}` }, onOutput);
  t.is(seen.stdout, r.stdout_bytes);
  t.is(r.stdout, expected(seqOutput(N)).text());
});
