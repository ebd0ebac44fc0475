import test from 'ava';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { requireEngine } from '../helpers/engine.js';
import { httpClient } from '../helpers/mcp-client.js';
import { startServer, type RunningServer } from '../helpers/server-process.js';

// Session caps, idle expiry and stream caps against the real server, with raw HTTP for the hostile
// side and the SDK client for the session that must keep working.
const VERSION = '2025-11-25';
const TOKEN_A = 'alice-token-0123456789abcdef';
const TOKEN_B = 'bob-token-0123456789abcdef01';
const servers: RunningServer[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  await requireEngine();
});
test.after.always(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function serve(env: Record<string, string>): Promise<RunningServer> {
  const server = await startServer({ CAPSULE_POOL: '0', ...env });
  servers.push(server);
  return server;
}

interface Answer {
  status: number;
  retryAfter: string | null;
  sessionId: string | null;
  body: { error?: { code: number; message: string; data?: Record<string, unknown> }; id?: unknown };
}

async function initialize(server: RunningServer, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'flood', version: '1' } } }),
  });
  const text = await res.text();
  const body = res.headers.get('content-type')?.includes('application/json') ? JSON.parse(text) : {};
  return { status: res.status, retryAfter: res.headers.get('retry-after'), sessionId: res.headers.get('mcp-session-id'), body };
}

function sessionHeaders(id: string, extra: Record<string, string> = {}) {
  return { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': id, 'mcp-protocol-version': VERSION, ...extra };
}

const del = (server: RunningServer, id: string, headers: Record<string, string> = {}) => fetch(server.url, { method: 'DELETE', headers: sessionHeaders(id, headers) });

function assertLimit(t: import('ava').ExecutionContext, a: Answer, limit: string, max: number): void {
  t.is(a.status, 429);
  t.is(a.body.id, 7, 'the error answers the initialize request by its id');
  t.is(a.body.error?.code, -32000);
  t.is(a.body.error?.data?.['code'], 'busy');
  t.is(a.body.error?.data?.['limit'], limit);
  t.is(a.body.error?.data?.['max'], max);
  t.regex(a.body.error?.message ?? '', new RegExp(`${limit}=${max}`));
  const retry = a.body.error?.data?.['retry_after_s'];
  t.true(typeof retry === 'number' && retry >= 1);
  t.is(a.retryAfter, String(retry), 'Retry-After says the same as the body');
}

test('a flood of initialize beyond CAPSULE_MAX_SESSIONS gets 429 naming the cap; an open session keeps working; DELETE frees a slot', async (t) => {
  const server = await serve({ CAPSULE_MAX_SESSIONS: '5' });
  const { client, call } = await httpClient(server.url);
  await client.listTools();
  const flood = await Promise.all(Array.from({ length: 30 }, () => initialize(server)));
  const opened = flood.filter((a) => a.status === 200);
  const refused = flood.filter((a) => a.status !== 200);
  t.is(opened.length, 4, 'the SDK client holds the fifth slot');
  t.is(refused.length, 26);
  for (const a of refused) assertLimit(t, a, 'CAPSULE_MAX_SESSIONS', 5);

  const r = await call<{ stdout: string }>('run_command', { command: 'echo still here' });
  t.is(r.s.stdout, 'still here\n', 'the session opened before the flood still runs tools');

  t.is((await del(server, opened[0]!.sessionId!)).status, 200);
  t.is((await initialize(server)).status, 200, 'a deleted session frees its slot');
  assertLimit(t, await initialize(server), 'CAPSULE_MAX_SESSIONS', 5);
  await client.close();
});

test('with tokens, one owner at CAPSULE_OWNER_MAX_SESSIONS does not block another owner', async (t) => {
  const server = await serve({ CAPSULE_TOKENS: `alice:${TOKEN_A},bob:${TOKEN_B}`, CAPSULE_OWNER_MAX_SESSIONS: '2', CAPSULE_MAX_SESSIONS: '10' });
  const alice = { authorization: `Bearer ${TOKEN_A}` };
  const first = await initialize(server, alice);
  t.is(first.status, 200);
  t.is((await initialize(server, alice)).status, 200);
  const third = await initialize(server, alice);
  assertLimit(t, third, 'CAPSULE_OWNER_MAX_SESSIONS', 2);
  t.regex(third.body.error!.message, /owner "alice"/);

  const bob = await httpClient(server.url, { authorization: `Bearer ${TOKEN_B}` });
  const r = await bob.call<{ stdout: string }>('run_command', { command: 'echo bob' });
  t.is(r.s.stdout, 'bob\n');
  await bob.client.close();

  t.is((await del(server, first.sessionId!, { authorization: `Bearer ${TOKEN_B}` })).status, 403, 'bob cannot delete alice\'s session');
  t.is((await del(server, first.sessionId!, alice)).status, 200);
  t.is((await initialize(server, alice)).status, 200, 'alice has a slot again');
});

test('idle sessions expire after CAPSULE_SESSION_IDLE_TIMEOUT and free their slots; a call longer than the timeout keeps its session', async (t) => {
  const server = await serve({ CAPSULE_MAX_SESSIONS: '2', CAPSULE_SESSION_IDLE_TIMEOUT: '2s' });
  const idle = [await initialize(server), await initialize(server)];
  t.true(idle.every((a) => a.status === 200));
  const full = await initialize(server);
  assertLimit(t, full, 'CAPSULE_MAX_SESSIONS', 2);
  t.true(Number(full.retryAfter) <= 4, `Retry-After ${full.retryAfter} s is about the idle timeout plus one sweep`);

  const started = Date.now();
  let again = await initialize(server);
  while (again.status !== 200 && Date.now() - started < 15_000) {
    await sleep(250);
    again = await initialize(server);
  }
  t.is(again.status, 200, 'a slot freed once the idle sessions expired');
  t.true(Date.now() - started >= 1000, 'not before the idle timeout');
  const list = (id: string) => fetch(server.url, { method: 'POST', headers: sessionHeaders(id), body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) });
  // Both were opened together; one more sweep (1 s) without touching them and neither is left.
  await sleep(1500);
  for (const { sessionId } of idle) {
    const gone = await list(sessionId!);
    t.is(gone.status, 404);
    t.is(((await gone.json()) as Answer['body']).error?.code, -32001);
  }
  await del(server, again.sessionId!);

  // A call that runs for twice the idle timeout: its session is in use, not idle.
  const { client, call } = await httpClient(server.url);
  const r = await call<{ stdout: string }>('run_command', { command: 'sleep 4; echo done' });
  t.is(r.s.stdout, 'done\n');
  t.truthy((await client.listTools()).tools.length, 'the session outlived its long call');
  await client.close();
});

test('one session holds at most 4 GET streams (standalone plus Last-Event-ID resumptions); a closed one frees its place', async (t) => {
  const server = await serve({});
  const opened = await initialize(server);
  const id = opened.sessionId!;
  // POST streams of protocol 2025-11-25 start with a priming event id a client may resume from.
  const eventIds: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await fetch(server.url, { method: 'POST', headers: sessionHeaders(id), body: JSON.stringify({ jsonrpc: '2.0', id: 100 + i, method: 'tools/list' }) });
    eventIds.push(/^id: (.+)$/m.exec(await res.text())![1]!);
  }
  const controllers: AbortController[] = [];
  const get = (extra: Record<string, string> = {}) => {
    const controller = new AbortController();
    controllers.push(controller);
    return fetch(server.url, { method: 'GET', headers: sessionHeaders(id, extra), signal: controller.signal });
  };
  t.is((await get()).status, 200, 'the standalone stream');
  for (const eventId of eventIds.slice(0, 3)) t.is((await get({ 'last-event-id': eventId })).status, 200);
  const fifth = await get({ 'last-event-id': eventIds[3]! });
  t.is(fifth.status, 429);
  const body = (await fifth.json()) as Answer['body'];
  t.is(body.error?.data?.['limit'], 'streams_per_session');
  t.is(body.error?.data?.['max'], 4);
  t.truthy(fifth.headers.get('retry-after'));

  controllers[0]!.abort();
  let retried = await get({ 'last-event-id': eventIds[4]! });
  for (let i = 0; i < 20 && retried.status === 429; i++) {
    await sleep(100);
    retried = await get({ 'last-event-id': eventIds[4]! });
  }
  t.is(retried.status, 200, 'a closed stream frees its place');
  for (const c of controllers) c.abort();
  t.is((await del(server, id)).status, 200);
});

test('connections beyond CAPSULE_MAX_CONNECTIONS are closed at once; the ones held keep working, and a closed one frees its place', async (t) => {
  const server = await serve({ CAPSULE_MAX_CONNECTIONS: '16' });
  const { port, hostname } = new URL(server.url);
  const { connect } = await import('node:net');
  /** A raw connection: resolves once connected; `closed` says whether the server hung up. */
  const open = () => new Promise<import('node:net').Socket>((resolve, reject) => {
    const s = connect(Number(port), hostname, () => resolve(s));
    s.once('error', reject);
  });
  const closedWithin = (s: import('node:net').Socket, ms: number) => new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    s.once('close', () => { clearTimeout(timer); resolve(true); });
  });
  const held = await Promise.all(Array.from({ length: 16 }, open));
  t.teardown(() => held.forEach((s) => s.destroy()));
  const extra = await open();
  t.true(await closedWithin(extra, 3000), 'the 17th connection is closed by the server');
  // A held connection still serves a request.
  held[0]!.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
  const answer = await new Promise<string>((resolve) => held[0]!.once('data', (d) => resolve(d.toString())));
  t.regex(answer, /^HTTP\/1\.1 200/);
  held.pop()!.destroy();
  await sleep(200);
  const again = await open();
  t.false(await closedWithin(again, 1000), 'a freed place takes a new connection');
  again.destroy();
});
