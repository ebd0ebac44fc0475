import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { readFileSync } from 'node:fs';
import { requireEngine, runtime } from '../helpers/engine.js';
import { startServer } from '../helpers/server-process.js';

test.before(requireEngine);

// The shipped profiles as the server loads them: default (runc) and gvisor (runsc, needs `make engine`).
const CASES = [
  { profile: 'default', runtime: 'runc', fork: ['timed_out'] },
  // gVisor's kernel stops at the engine's pids limit (it counts gVisor's own threads): failed, saying so;
  // on a loaded machine the bomb may not reach the limit within its 3 s, and then it times out.
  { profile: 'gvisor', runtime: 'runsc', fork: ['failed', 'timed_out'] },
];

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

for (const c of CASES) test(`[${c.profile}] fork bomb, memory bomb, endless loop and endless output: honest results, the server keeps serving with bounded memory`, async (t) => {
  const server = await startServer();
  const client = new Client({ name: 'hostile', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(server.url));
  await client.listTools(); // as hosts do: the SDK then checks every structured result against its outputSchema
  const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: { profile: c.profile, ...args } }) as Promise<CallToolResult>;
  try {
    const [fork, memory, loop, flood] = await Promise.all([
      call('run_command', { command: 'bomb() { bomb | bomb & }; bomb; sleep 60', timeout_ms: 3000 }),
      call('run_code', { language: 'python', code: 'x = []\nwhile True: x.append(bytearray(8 << 20))', limits: { memory_mb: 64 } }),
      call('run_code', { language: 'bash', code: 'while :; do :; done', timeout_ms: 2000 }),
      call('run_command', { command: 'cat /dev/zero', timeout_ms: 3000 }),
    ]);
    const status = (r: CallToolResult) => (r.structuredContent as { status: string } | undefined)?.status;
    const text = (r: CallToolResult) => (r.content[0] as { text: string }).text.slice(0, 300);
    t.true(c.fork.includes(status(fork)!), text(fork));
    if (status(fork) === 'failed') t.regex((fork.structuredContent as { error: string }).error, /gVisor's kernel \(the Sentry\) stopped/);
    t.is(status(memory), 'oom_killed', text(memory));
    t.is(status(loop), 'timed_out', text(loop));
    t.is(status(flood), 'timed_out', text(flood));
    t.true((flood.structuredContent as { truncated: boolean }).truncated);
    for (const r of [fork, memory, loop, flood]) {
      t.true(r.isError);
      t.is((r.structuredContent as { runtime: string }).runtime, c.runtime);
    }
    const after = await call('run_command', { command: 'echo still serving' });
    t.is((after.structuredContent as { stdout: string }).stdout, 'still serving\n');
    const peak = peakRssMb(server.child.pid!);
    t.log(`server peak RSS ${peak.toFixed(0)} MB`);
    t.true(peak < 300, `server peak RSS ${peak} MB`);
  } finally {
    await client.close();
    await server.stop();
  }
  t.deepEqual(await runtime.list({ 'capsule.managed': 'true', 'capsule.instance': server.instance }), []);
});
