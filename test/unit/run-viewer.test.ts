import test from 'ava';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerRunViewer, RUN_VIEWER_URI } from '../../server/mcp/run-viewer.js';

async function serve(file: string) {
  const server = new McpServer({ name: 't', version: '1' }, { capabilities: { resources: {} } });
  registerRunViewer(server, file);
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'c', version: '1' });
  await Promise.all([server.connect(b), client.connect(a)]);
  return client;
}

test('resources/read serves the built page as text/html;profile=mcp-app, with the UI metadata', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'capsule-rv-')), 'run-viewer.html');
  writeFileSync(file, '<!doctype html><title>viewer</title>');
  const client = await serve(file);
  const { contents } = await client.readResource({ uri: RUN_VIEWER_URI });
  t.deepEqual(contents, [{ uri: RUN_VIEWER_URI, mimeType: 'text/html;profile=mcp-app', text: '<!doctype html><title>viewer</title>', _meta: { ui: { prefersBorder: true } } }]);
});

test('an unbuilt viewer is a clear error naming the fix, not a crash', async (t) => {
  const client = await serve(join(tmpdir(), 'capsule-no-such-dir', 'run-viewer.html'));
  const err = await t.throwsAsync(client.readResource({ uri: RUN_VIEWER_URI }));
  t.regex(err!.message, /the run viewer is not built .*npm run build/);
});
