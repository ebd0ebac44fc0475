import test from 'ava';
import { httpClient } from '../helpers/mcp-client.js';
import { serverForThisFile } from '../helpers/file-server.js';

const server = serverForThisFile();

interface Profiled {
  exit_code: number;
  run_id: string;
  sandbox_profile: string;
  stats: { cpu_ms: number };
  profile: { tool: string; flamegraph_uri: string; top: Array<{ function: string }> };
}

test('acceptance: profile_code on a recursive JS function: top frames and a flame graph page over MCP and HTTP', async (t) => {
  const { call, client } = await httpClient(server().url);
  const r = await call<Profiled>('profile_code', {
    language: 'javascript',
    code: 'function walk(n) { return n === 0 ? 1 : walk(n - 1) + walk(n - 1); }\nconsole.log(walk(24));',
  });
  t.falsy(r.result.isError, r.text);
  t.is(r.s.sandbox_profile, 'default');
  t.true(r.s.profile.top.slice(0, 5).some((f) => f.function === 'walk'), JSON.stringify(r.s.profile.top.slice(0, 5)));
  t.true(r.result.content.some((c) => c.type === 'resource_link' && c.uri === r.s.profile.flamegraph_uri));
  const page = await client.readResource({ uri: r.s.profile.flamegraph_uri });
  const html = (page.contents[0] as { text: string; mimeType: string });
  t.is(html.mimeType, 'text/html');
  t.true(html.text.length > 10_000);
  const viaHttp = await fetch(`${server().base}/v1/runs/${r.s.run_id}/artifacts/flamegraph.html`);
  t.is(viaHttp.status, 200);
  t.regex(viaHttp.headers.get('content-type') ?? '', /text\/html/);
  const json = await fetch(`${server().base}/v1/runs/${r.s.run_id}/artifacts/profile.json`);
  t.is(((await json.json()) as { tool: string }).tool, '0x');
  t.is((await fetch(`${server().base}/v1/runs/run_0000000000000000/artifacts/flamegraph.html`)).status, 404);
  await client.close();
});

test('acceptance: every run_command result carries stats with non-zero cpu_ms and memory_peak_bytes', async (t) => {
  const { call, client } = await httpClient(server().url);
  const r = await call<{ stats: { cpu_ms: number; memory_peak_bytes: number; final: boolean } }>('run_command', { command: 'python3 -c "sum(range(3000000))"' });
  t.true(r.s.stats.cpu_ms > 0, JSON.stringify(r.s.stats));
  t.true(r.s.stats.memory_peak_bytes > 0);
  t.true(r.s.stats.final);
  await client.close();
});

test('container_stats reports live stats of a background process', async (t) => {
  const { call, client } = await httpClient(server().url);
  const p = await call<{ process_id: string }>('start_process', { command: 'python3 -c "x = bytearray(64 << 20); import time; time.sleep(30)"' });
  let stats: { memory_peak_bytes: number } | null = null;
  for (let i = 0; i < 40 && !(stats && stats.memory_peak_bytes > 64 << 20); i++) {
    await new Promise((r) => setTimeout(r, 250));
    stats = (await call<{ stats: { memory_peak_bytes: number } | null }>('container_stats', { process_id: p.s.process_id })).s.stats;
  }
  t.true((stats?.memory_peak_bytes ?? 0) > 64 << 20, JSON.stringify(stats));
  await call('kill_process', { process_id: p.s.process_id });
  await client.close();
});

test('self-profiling: start, tool calls, stop yields a profile with Capsule functions; stop without start is a clear error', async (t) => {
  const { call, client } = await httpClient(server().url);
  const notRunning = await call('stop_server_profiling');
  t.true(notRunning.result.isError);
  t.regex(notRunning.text, /not running/);
  await call('start_server_profiling');
  t.true((await call<{ running: boolean }>('server_profiling_status')).s.running);
  const again = await call('start_server_profiling');
  t.true(again.result.isError, 'one session at a time');
  for (let i = 0; i < 10; i++) await call('run_command', { command: 'echo profiled' });
  const report = await call<{ samples: number; cpuprofile_uri: string; flamegraph_uri: string; top: Array<{ file: string }> }>('stop_server_profiling');
  t.falsy(report.result.isError, report.text);
  t.true(report.s.samples > 0);
  const cpuprofile = await client.readResource({ uri: report.s.cpuprofile_uri });
  const text = (cpuprofile.contents[0] as { text: string }).text;
  // Any of Capsule's own modules (the sandbox-run.js of an older layout is gone; sampling decides which).
  t.regex(text, /dist\/server\/(sandbox|mcp|http|runtime|store|telemetry)\//, 'the profile contains Capsule\'s own functions');
  const page = await client.readResource({ uri: report.s.flamegraph_uri });
  t.true((page.contents[0] as { text: string }).text.length > 10_000);
  await client.close();
});
