import test from 'ava';
import { pack } from 'tar-stream';
import { runtime } from '../helpers/engine.js';
import { httpClient } from '../helpers/mcp-client.js';
import { serverForThisFile } from '../helpers/file-server.js';

const server = serverForThisFile({}, async (s) => {
  for (const v of await runtime.listVolumes({ 'capsule.instance': s.instance })) await runtime.removeVolume(v.name).catch(() => undefined);
});

test('acceptance: a Python project in a workspace passes pytest; files the run wrote are readable; a symlink to /etc/passwd is not', async (t) => {
  const { call, client } = await httpClient(server().url);
  const ws = await call<{ workspace_id: string }>('create_workspace', {});
  const id = ws.s.workspace_id;
  const wrote = await call('write_files', {
    workspace_id: id,
    files: [
      { path: 'calc/__init__.py', content: '' },
      { path: 'calc/ops.py', content: 'def add(a, b):\n    return a + b\n' },
      { path: 'tests/test_ops.py', content: 'from calc.ops import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\ndef test_add_neg():\n    assert add(-1, 1) == 0\n' },
    ],
  });
  t.falsy(wrote.result.isError, wrote.text);
  const run = await call<{ exit_code: number; stdout: string; workspace: { bytes: number } }>('run_command', {
    command: 'python3 -m pytest -q -p no:cacheprovider && echo "report: 2 passed" > report.txt && ln -s /etc/passwd leak',
    workspace_id: id,
  });
  t.is(run.s.exit_code, 0, run.s.stdout);
  t.regex(run.s.stdout, /2 passed/);
  t.true(run.s.workspace.bytes > 0);
  const report = await call<{ content: string }>('read_file', { workspace_id: id, path: 'report.txt' });
  t.is(report.s.content, 'report: 2 passed\n');
  const leak = await call('read_file', { workspace_id: id, path: 'leak' });
  t.true(leak.result.isError);
  t.regex(leak.text, /invalid_input: "leak" is a symlink that leads outside the workspace/);
  const listing = await call<{ entries: Array<{ path: string }> }>('list_files', { workspace_id: id, recursive: true });
  t.true(listing.s.entries.some((e) => e.path === 'tests/test_ops.py'));

  // The same file as an MCP resource, and the workspace in resources/list.
  const resource = await client.readResource({ uri: `capsule://workspaces/${id}/files/calc/ops.py` });
  t.like(resource.contents[0], { text: 'def add(a, b):\n    return a + b\n', mimeType: 'text/x-python' });
  const { resources } = await client.listResources();
  t.true(resources.some((r) => r.uri === `capsule://workspaces/${id}`));
  const listed = await call<{ workspaces: Array<{ workspace_id: string }> }>('list_workspaces', {});
  t.true(listed.s.workspaces.some((w) => w.workspace_id === id));
  await call('delete_workspace', { workspace_id: id });
  await client.close();
});

test('REST: PUT and GET raw files, tar upload and download', async (t) => {
  const { call, client } = await httpClient(server().url);
  const id = (await call<{ workspace_id: string }>('create_workspace', {})).s.workspace_id;
  const put = await fetch(`${server().base}/v1/workspaces/${id}/files/data/blob.bin`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array([0, 1, 2, 250]) });
  t.is(put.status, 201);
  const get = await fetch(`${server().base}/v1/workspaces/${id}/files/data/blob.bin`);
  t.is(get.status, 200);
  t.deepEqual([...new Uint8Array(await get.arrayBuffer())], [0, 1, 2, 250]);

  const archive = pack();
  archive.entry({ name: 'src/main.py' }, 'print("from tar")\n');
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const c of archive as unknown as AsyncIterable<Buffer>) chunks.push(c);
  const up = await fetch(`${server().base}/v1/workspaces/${id}/archive`, { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: Buffer.concat(chunks) });
  t.is(up.status, 201, await up.clone().text());
  const run = await call<{ stdout: string }>('run_command', { command: 'python3 src/main.py', workspace_id: id });
  t.is(run.s.stdout, 'from tar\n');

  const down = await fetch(`${server().base}/v1/workspaces/${id}/archive`);
  t.is(down.headers.get('content-type'), 'application/x-tar');
  const tarText = Buffer.from(await down.arrayBuffer()).toString('latin1');
  t.regex(tarText, /workspace\/src\/main\.py/);
  t.regex(tarText, /print\("from tar"\)/);

  const evil = pack();
  evil.entry({ name: '../../etc/evil' }, 'x');
  evil.finalize();
  const evilChunks: Buffer[] = [];
  for await (const c of evil as unknown as AsyncIterable<Buffer>) evilChunks.push(c);
  const rejected = await fetch(`${server().base}/v1/workspaces/${id}/archive`, { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: Buffer.concat(evilChunks) });
  t.is(rejected.status, 400);
  t.regex(((await rejected.json()) as { error: { message: string } }).error.message, /contains "\.\."/);
  t.is((await fetch(`${server().base}/v1/workspaces/${id}/files/nope.txt`)).status, 404);
  await call('delete_workspace', { workspace_id: id });
  await client.close();
});
