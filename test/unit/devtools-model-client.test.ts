import test from 'ava';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createModelClient, ModelEndpointError } from '../../server/devtools/model-client.js';
import { CancelledError, InvalidInputError } from '../../server/errors.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A one-off endpoint on 127.0.0.1 (port 0); returns its /v1 base URL and what it received. */
async function endpoint(t: { teardown(fn: () => void): void }, handler: Handler): Promise<{ url: string; requests: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> }> {
  const requests: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests };
}

const json = (res: ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof value === 'string' ? value : JSON.stringify(value));
};
const reply = (content: unknown) => ({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });

test('posts an OpenAI-style request and returns the first choice', async (t) => {
  const server = await endpoint(t, (_req, _body, res) => json(res, 200, reply('print("hi")')));
  const client = createModelClient({ url: `${server.url}/`, model: 'qwen-coder', apiKey: 'sk-test-123' });
  const text = await client.complete(
    [
      { role: 'system', content: 'You write code.' },
      { role: 'user', content: 'hello world in python' },
    ],
    { maxTokens: 256, temperature: 0.2 },
  );
  t.is(text, 'print("hi")');
  const [request] = server.requests;
  t.is(request!.path, '/v1/chat/completions');
  t.is(request!.headers.authorization, 'Bearer sk-test-123');
  t.is(request!.headers['content-type'], 'application/json');
  t.deepEqual(JSON.parse(request!.body), {
    model: 'qwen-coder',
    messages: [
      { role: 'system', content: 'You write code.' },
      { role: 'user', content: 'hello world in python' },
    ],
    stream: false,
    max_tokens: 256,
    temperature: 0.2,
  });
});

test('no api key, no authorization header; unset options are not sent', async (t) => {
  const server = await endpoint(t, (_req, _body, res) => json(res, 200, reply('ok')));
  await createModelClient({ url: server.url, model: 'm' }).complete([{ role: 'user', content: 'x' }]);
  t.is(server.requests[0]!.headers.authorization, undefined);
  t.deepEqual(Object.keys(JSON.parse(server.requests[0]!.body)), ['model', 'messages', 'stream']);
});

test('a non-2xx answer names the status and an excerpt of the body, never the key', async (t) => {
  const server = await endpoint(t, (_req, _body, res) => json(res, 401, { error: { message: 'Incorrect API key provided: sk-secret-999. '.repeat(20) } }));
  const client = createModelClient({ url: server.url, model: 'm', apiKey: 'sk-secret-999' });
  const err = await t.throwsAsync(client.complete([{ role: 'user', content: 'x' }]), { instanceOf: ModelEndpointError });
  t.regex(err!.message, /answered HTTP 401: \{"error":\{"message":"Incorrect API key provided: \[redacted\]/);
  t.false(err!.message.includes('sk-secret-999'));
  t.true(err!.message.length < 450);
  t.is(err!.details.status, 401);
});

test('a 500 with an empty body', async (t) => {
  const server = await endpoint(t, (_req, _body, res) => {
    res.writeHead(500);
    res.end();
  });
  await t.throwsAsync(createModelClient({ url: server.url, model: 'm' }).complete([{ role: 'user', content: 'x' }]), {
    instanceOf: ModelEndpointError,
    message: new RegExp(`^the model at ${server.url}/chat/completions answered HTTP 500$`),
  });
});

test('malformed responses are reported as such', async (t) => {
  const bodies: unknown[] = ['<html>gateway</html>', { choices: [] }, { result: 'x' }, reply(null)];
  const server = await endpoint(t, (_req, _body, res) => json(res, 200, bodies[server.requests.length - 1]));
  const client = createModelClient({ url: server.url, model: 'm' });
  const ask = () => client.complete([{ role: 'user', content: 'x' }]);
  await t.throwsAsync(ask(), { instanceOf: ModelEndpointError, message: /not JSON: <html>gateway<\/html>/ });
  await t.throwsAsync(ask(), { instanceOf: ModelEndpointError, message: /malformed completion/ });
  await t.throwsAsync(ask(), { instanceOf: ModelEndpointError, message: /malformed completion/ });
  await t.throwsAsync(ask(), { instanceOf: ModelEndpointError, message: /without text content/ });
});

test('a model that does not answer in time is a timeout error', async (t) => {
  const server = await endpoint(t, () => undefined);
  const started = Date.now();
  await t.throwsAsync(createModelClient({ url: server.url, model: 'm', timeoutMs: 200 }).complete([{ role: 'user', content: 'x' }]), {
    instanceOf: ModelEndpointError,
    message: /did not answer within 200 ms/,
  });
  t.true(Date.now() - started < 3_000);
});

test('the caller cancelling is a CancelledError, not a timeout', async (t) => {
  const server = await endpoint(t, () => undefined);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  await t.throwsAsync(createModelClient({ url: server.url, model: 'm' }).complete([{ role: 'user', content: 'x' }], { signal: controller.signal }), {
    instanceOf: CancelledError,
  });
});

test('an unreachable endpoint says so', async (t) => {
  // A port nobody listens on: take one from a server, then close it.
  const closed = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  await t.throwsAsync(createModelClient({ url: `http://127.0.0.1:${closed}/v1`, model: 'm' }).complete([{ role: 'user', content: 'x' }]), {
    instanceOf: ModelEndpointError,
    message: /^cannot reach the model at http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: ECONNREFUSED$/,
  });
});

test('an oversized response is cut off', async (t) => {
  const server = await endpoint(t, (_req, _body, res) => json(res, 200, reply('x'.repeat(10_000))));
  await t.throwsAsync(createModelClient({ url: server.url, model: 'm', maxResponseBytes: 1_000 }).complete([{ role: 'user', content: 'x' }]), {
    instanceOf: ModelEndpointError,
    message: /larger than 1000 bytes/,
  });
});

test('bad configuration and options are refused before any request', async (t) => {
  t.throws(() => createModelClient({ url: 'not a url', model: 'm' }), { instanceOf: InvalidInputError });
  t.throws(() => createModelClient({ url: 'file:///etc/passwd', model: 'm' }), { instanceOf: InvalidInputError, message: /http or https/ });
  t.throws(() => createModelClient({ url: 'http://127.0.0.1:1/v1', model: ' ' }), { instanceOf: InvalidInputError });
  const withPassword = t.throws(() => createModelClient({ url: 'http://user:hunter2@127.0.0.1:1/v1', model: 'm' }), { instanceOf: InvalidInputError, message: /credentials/ });
  t.false(withPassword!.message.includes('hunter2'));
  const client = createModelClient({ url: 'http://127.0.0.1:1/v1', model: 'm' });
  await t.throwsAsync(client.complete([]), { instanceOf: InvalidInputError });
  await t.throwsAsync(client.complete([{ role: 'user', content: 'x' }], { maxTokens: 0 }), { instanceOf: InvalidInputError });
  await t.throwsAsync(client.complete([{ role: 'user', content: 'x' }], { temperature: 3 }), { instanceOf: InvalidInputError });
});
