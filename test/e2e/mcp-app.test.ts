import test, { type ExecutionContext } from 'ava';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { FrameLocator } from 'playwright-core';
import { openBrowser, type Browser } from '../helpers/browser.js';
import { containersLeft } from '../helpers/engine.js';
import { serverForThisFile } from '../helpers/file-server.js';
import { httpClient } from '../helpers/mcp-client.js';

// The run viewer MCP App (extension io.modelcontextprotocol/ui) as a host would show it: the test is
// the host. It reads the ui:// resource with the SDK client, renders it in a sandboxed iframe under
// the spec's default CSP, and speaks the extension's postMessage JSON-RPC: answers ui/initialize,
// sends tool-input and tool-result, and forwards the app's tools/call and resources/read to the server.
const TOKEN = 'app-token-0123456789abcdef';
const server = serverForThisFile({ CAPSULE_TOKENS: `app:${TOKEN}` });
const RUN_TOOLS = ['run_command', 'run_code', 'profile_code', 'start_process', 'run_tests'];
const URI = 'ui://capsule/run-viewer';
const MIME = 'text/html;profile=mcp-app';
// What a host MUST apply when the resource declares no CSP (spec, "Host Behavior").
const DEFAULT_CSP = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self' data:; connect-src 'none'; frame-src 'none'; object-src 'none'; base-uri 'self'";

const HOST_PAGE = `<!doctype html><html><body style="margin:0">
<iframe id="view" sandbox="allow-scripts" style="width:1000px;height:1400px;border:0"></iframe>
<script>
const frame = document.getElementById('view');
window.seen = [];
const send = (m) => frame.contentWindow.postMessage(m, '*');
window.addEventListener('message', async (e) => {
  if (e.source !== frame.contentWindow) return;
  const m = e.data;
  if (!m || m.jsonrpc !== '2.0' || !m.method) return;
  window.seen.push(m.method);
  if (m.method === 'ui/initialize') {
    send({ jsonrpc: '2.0', id: m.id, result: {
      protocolVersion: m.params.protocolVersion,
      hostInfo: { name: 'capsule-test-host', version: '1.0.0' },
      hostCapabilities: { serverTools: {}, serverResources: {}, logging: {} },
      hostContext: { toolInfo: { tool: window.call.tool }, theme: 'light', displayMode: 'inline', availableDisplayModes: ['inline'], containerDimensions: { maxHeight: 4000 } },
    } });
  } else if (m.method === 'ui/notifications/initialized') {
    send({ jsonrpc: '2.0', method: 'ui/notifications/tool-input', params: { arguments: window.call.arguments } });
    send({ jsonrpc: '2.0', method: 'ui/notifications/tool-result', params: window.call.result });
  } else if (m.method === 'tools/call' || m.method === 'resources/read') {
    try { send({ jsonrpc: '2.0', id: m.id, result: await window.forward(m.method, m.params) }); }
    catch (err) { send({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message: String(err && err.message || err) } }); }
  } else if (m.method === 'ping') {
    send({ jsonrpc: '2.0', id: m.id, result: {} });
  } else if (m.id !== undefined) {
    send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'not supported by the test host: ' + m.method } });
  }
});
window.show = (html, call) => { window.call = call; frame.srcdoc = html; };
</script></body></html>`;

async function connect(t: ExecutionContext): Promise<{ client: Client; call: Awaited<ReturnType<typeof httpClient>>['call'] }> {
  const { client, call } = await httpClient(server().url, { authorization: `Bearer ${TOKEN}` });
  t.teardown(() => client.close());
  return { client, call };
}

async function viewerHtml(client: Client): Promise<string> {
  const { contents } = await client.readResource({ uri: URI });
  const html = (contents[0] as { text: string }).text;
  return html.replace(/<head>/i, `<head><meta http-equiv="Content-Security-Policy" content="${DEFAULT_CSP}">`);
}

/** Show the app for one tool call in a fresh browser; returns the app's frame and what it asked the host. */
async function host(t: ExecutionContext, client: Client, tool: string, args: Record<string, unknown>, result: CallToolResult) {
  const browser: Browser = await openBrowser({ width: 1024, height: 1500 });
  t.teardown(() => browser.close());
  const forwarded: string[] = [];
  await browser.page.exposeFunction('forward', async (method: string, params: Record<string, unknown>) => {
    forwarded.push(method === 'tools/call' ? `tools/call ${String(params['name'])}` : `resources/read ${String(params['uri'])}`);
    return method === 'tools/call' ? client.callTool(params as Parameters<Client['callTool']>[0]) : client.readResource(params as { uri: string });
  });
  await browser.page.setContent(HOST_PAGE);
  const { tools } = await client.listTools();
  await browser.page.evaluate(([html, call]) => (window as unknown as { show: (h: string, c: unknown) => void }).show(html, call), [await viewerHtml(client), { tool: tools.find((x) => x.name === tool), arguments: args, result }] as const);
  const frame: FrameLocator = browser.page.frameLocator('#view');
  const seen = () => browser.page.evaluate(() => (window as unknown as { seen: string[] }).seen);
  return { browser, frame, forwarded, seen };
}

test('the run tools declare the viewer in _meta.ui.resourceUri (every session), and resources/read serves it as text/html;profile=mcp-app', async (t) => {
  const { client } = await connect(t);
  const { client: second } = await connect(t);
  for (const c of [client, second]) {
    const { tools } = await c.listTools();
    const declaring = tools.filter((tool) => (tool._meta as { ui?: { resourceUri?: string } } | undefined)?.ui?.resourceUri === URI).map((tool) => tool.name);
    t.deepEqual(declaring.sort(), [...RUN_TOOLS].sort());
    for (const name of RUN_TOOLS) t.is(tools.find((tool) => tool.name === name)!._meta?.['ui/resourceUri'], URI, `${name}: the deprecated flat key too, for older hosts`);
  }
  const { contents } = await client.readResource({ uri: URI });
  t.is(contents.length, 1);
  t.is(contents[0]!.mimeType, MIME);
  const html = (contents[0] as { text: string }).text;
  t.regex(html, /^<!doctype html>/i);
  t.regex(html, /<script type="module"[^>]*>[\s\S]{1000,}<\/script>/, 'the script is inlined');
  t.notRegex(html, /\b(src|href)=["'](https?:)?\/\//, 'no external resource: it works under the default CSP, air-gapped');
  const { resources } = await client.listResources();
  t.like(resources.find((r) => r.uri === URI), { mimeType: MIME, name: 'run-viewer' });
});

test.serial('a run_command result renders in the app: status, both streams, stats chart, facts', async (t) => {
  const { client, call } = await connect(t);
  const args = { command: "printf 'line1\\nline2\\n'; echo oops >&2; exit 3" };
  const { result, s } = await call<{ run_id: string }>('run_command', args);
  const { frame, forwarded, seen, browser } = await host(t, client, 'run_command', args, result);
  const run = frame.locator(`article.rv-run[data-run-id="${s.run_id}"][data-status=exited]`);
  await run.waitFor({ timeout: 20_000 });
  t.is(await frame.locator('pre[data-stream=stdout]').textContent(), 'line1\nline2\n');
  t.is(await frame.locator('pre[data-stream=stderr]').textContent(), 'oops\n');
  t.regex((await run.locator('.rv-head').textContent()) ?? '', /exit 3/);
  t.true(await frame.locator('.badge-nonzero').isVisible(), 'exit 3 shown as a failed program');
  await frame.locator('.chart-canvas canvas').first().waitFor();
  t.true(Number(await frame.locator('.chart-canvas').getAttribute('data-samples')) >= 1, 'the stats samples are plotted');
  await frame.locator('.uplot .u-legend', { hasText: 'memory limit' }).waitFor();
  t.true(forwarded.includes('tools/call list_profiles'), 'the memory limit came through the host bridge');
  const methods = await seen();
  t.true(methods.includes('ui/initialize') && methods.includes('ui/notifications/initialized'));
  t.true(methods.includes('ui/notifications/size-changed'), 'the app reports its size to the host');
  t.deepEqual(browser.errors, [], 'no script error and no CSP violation');
});

test.serial('a profile_code result shows the flame graph, from profile.json read through the host', async (t) => {
  const { client, call } = await connect(t);
  const args = { language: 'python', code: 'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nprint(fib(22))' };
  const { result, s } = await call<{ run_id: string; profile: { profile_uri: string } }>('profile_code', args);
  const { frame, forwarded, browser } = await host(t, client, 'profile_code', args, result);
  await frame.locator(`article.rv-run[data-run-id="${s.run_id}"]`).waitFor({ timeout: 20_000 });
  await frame.locator('.flame-chart svg rect').nth(2).waitFor({ timeout: 20_000 });
  t.true(await frame.locator('.flame-chart svg rect').count() >= 3, 'frames drawn');
  t.regex((await frame.locator('.flame-chart').textContent()) ?? '', /fib/);
  t.true(forwarded.includes(`resources/read ${s.profile.profile_uri}`));
  t.is(await frame.locator('pre[data-stream=stdout]').textContent(), '17711\n');
  t.deepEqual(browser.errors, []);
});

test.serial('a start_process result streams live in the app through the bridge, and the app can kill it', async (t) => {
  const { client, call } = await connect(t);
  const args = { language: 'python', code: 'import time, itertools\nfor i in itertools.count():\n    print(f"beat {i}", flush=True)\n    time.sleep(0.2)' };
  const { result, s } = await call<{ process_id: string; run_id: string }>('start_process', args);
  const { frame, forwarded, browser } = await host(t, client, 'start_process', args, result);
  await frame.locator(`article.rv-process[data-process-id="${s.process_id}"][data-state=running]`).waitFor({ timeout: 20_000 });
  const stdout = frame.locator('pre[data-stream=stdout]');
  for (const line of ['beat 0', 'beat 3']) {
    await frame.locator('pre[data-stream=stdout]', { hasText: line }).waitFor({ timeout: 20_000 });
  }
  t.regex((await stdout.textContent()) ?? '', /^beat 0\nbeat 1\nbeat 2\nbeat 3\n/, 'every line once, in order');
  t.true(forwarded.some((f) => f === 'tools/call read_process_output'));
  await frame.locator('button.danger', { hasText: 'Kill' }).click();
  await frame.locator(`article.rv-run[data-run-id="${s.run_id}"][data-status=killed]`).waitFor({ timeout: 30_000 });
  t.true(forwarded.includes('tools/call kill_process') && forwarded.includes('tools/call get_run'));
  t.deepEqual(await containersLeft({ 'capsule.run_id': s.run_id }), []);
  t.deepEqual(browser.errors, []);
});
