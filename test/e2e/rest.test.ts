import test from 'ava';
import { Validator } from '@seriousme/openapi-schema-validator';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { containersLeft, requireEngine } from '../helpers/engine.js';
import { startServer, type RunningServer } from '../helpers/server-process.js';

const TOKEN = 'rest-token-0123456789abcdef';
let server: RunningServer;
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

test.before(async () => {
  await requireEngine();
  server = await startServer({ CAPSULE_TOKENS: `rest:${TOKEN}` });
});
test.after.always(async () => {
  await server?.stop();
});

/** Read an SSE response with a real HTTP client and a maintained parser; stop after `exit` or `max` events. */
async function readEvents(res: Response, max = Infinity, onEvent?: (e: EventSourceMessage) => void): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  while (events.length < max && events.at(-1)?.event !== 'exit') {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
    events.forEach((e) => onEvent?.(e));
  }
  await reader.cancel().catch(() => undefined);
  return events.slice(0, max); // one chunk can carry more than asked for; the rest is re-read after a resume
}

test('POST /v1/runs?wait=true returns the result', async (t) => {
  const res = await fetch(`${server.base}/v1/runs?wait=true`, { method: 'POST', headers: auth, body: JSON.stringify({ command: 'echo rest' }) });
  t.is(res.status, 200);
  const body = (await res.json()) as { stdout: string; status: string; run_id: string };
  t.is(body.stdout, 'rest\n');
  const record = await fetch(`${server.base}/v1/runs/${body.run_id}`, { headers: auth });
  t.is(((await record.json()) as { status: string }).status, 'exited');
});

test('POST /v1/runs without wait: 202, then SSE events with ids, resumed with Last-Event-ID', async (t) => {
  const res = await fetch(`${server.base}/v1/runs`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ language: 'python', code: 'import time\nfor i in range(6):\n    print(f"n{i}", flush=True)\n    time.sleep(0.3)' }),
  });
  t.is(res.status, 202);
  const { run_id, links } = (await res.json()) as { run_id: string; links: { events: string } };
  const first = await readEvents(await fetch(`${server.base}${links.events}`, { headers: auth }), 2);
  t.is(first.length, 2);
  t.true(first.every((e) => e.event === 'stdout' && /^\d+$/.test(e.id ?? '')));
  const lastId = first.at(-1)!.id!;
  const rest = await readEvents(await fetch(`${server.base}${links.events}`, { headers: { ...auth, 'last-event-id': lastId } }));
  const out = [...first, ...rest].filter((e) => e.event === 'stdout').map((e) => (JSON.parse(e.data) as { data: string }).data).join('');
  t.is(out, 'n0\nn1\nn2\nn3\nn4\nn5\n', 'no gaps, no repeats across the reconnect');
  const exit = rest.at(-1)!;
  t.is(exit.event, 'exit');
  t.like(JSON.parse(exit.data), { status: 'exited', exit_code: 0, run_id });
});

test('DELETE /v1/runs/:id kills a background run', async (t) => {
  const res = await fetch(`${server.base}/v1/runs`, { method: 'POST', headers: auth, body: JSON.stringify({ command: 'sleep 300' }) });
  const { run_id } = (await res.json()) as { run_id: string };
  const del = await fetch(`${server.base}/v1/runs/${run_id}`, { method: 'DELETE', headers: auth });
  t.is(del.status, 200);
  t.is(((await del.json()) as { status: string }).status, 'killed');
  t.deepEqual(await containersLeft({ 'capsule.run_id': run_id }), []);
});

test('REST errors: 401 without a token, 400 naming the bad field, 404 for unknown runs', async (t) => {
  t.is((await fetch(`${server.base}/v1/runs/run_x`)).status, 401);
  const bad = await fetch(`${server.base}/v1/runs?wait=true`, { method: 'POST', headers: auth, body: JSON.stringify({ command: 'x', timeout_ms: 'soon' }) });
  t.is(bad.status, 400);
  const body = (await bad.json()) as { error: { code: string; message: string } };
  t.is(body.error.code, 'invalid_input');
  t.regex(body.error.message, /timeout_ms|command/);
  t.is((await fetch(`${server.base}/v1/runs/run_nope`, { headers: auth })).status, 404);
});

test('GET /openapi.json is a valid OpenAPI document generated from the zod schemas', async (t) => {
  const doc = await (await fetch(`${server.base}/openapi.json`)).json();
  const validator = new Validator();
  const result = await validator.validate(doc as Parameters<Validator["validate"]>[0]);
  t.true(result.valid, JSON.stringify(result.errors));
  const body = (doc as { paths: Record<string, { post?: { requestBody: { content: Record<string, { schema: unknown }> } } }> }).paths['/v1/runs']!.post!.requestBody.content['application/json']!.schema;
  t.regex(JSON.stringify(body), /"command"/);
  t.regex(JSON.stringify(body), /"language"/);
});
