import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { containersLeft, requireEngine } from '../helpers/engine.js';
import { CLI } from '../helpers/server-process.js';

test.before(requireEngine);

test('capsule serve --stdio serves a real client', async (t) => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'serve', '--stdio'],
    env: { ...(process.env as Record<string, string>), CAPSULE_LOG_LEVEL: 'warn', CAPSULE_INSTANCE: 'e2e-stdio' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'e2e-stdio', version: '1.0.0' });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    t.true(tools.some((tool) => tool.name === 'run_code'));
    const r = (await client.callTool({ name: 'run_code', arguments: { language: 'python', code: 'print("over stdio")' } })) as CallToolResult;
    const s = r.structuredContent as { stdout: string; run_id: string; status: string };
    t.is(s.status, 'exited');
    t.is(s.stdout, 'over stdio\n');
    t.is((await containersLeft({ 'capsule.run_id': s.run_id })).length, 0);
  } finally {
    await client.close();
  }
});
