import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../server/version.js';
import * as errors from '../../server/errors.js';
import { ERRORS, type ErrorCode, toHttpError, toJsonRpcError, toMcpError, toToolErrorResult } from '../../server/errors.js';

/** Every concrete error class the module exports, instantiated once. */
type ErrorClass = new (message: string) => errors.CapsuleError;
const instances: errors.CapsuleError[] = (Object.values(errors) as unknown[])
  .filter((v): v is ErrorClass => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof errors.CapsuleError)
  .filter((cls) => (cls as unknown) !== errors.SessionLimitError)
  .map((cls) => new cls('boom'));

test('every error class has a code the registry knows, and every registry code has a class', (t) => {
  const codes = new Set(instances.map((e) => e.code));
  for (const e of instances) t.truthy(ERRORS[e.code], e.name);
  t.deepEqual([...codes].sort(), (Object.keys(ERRORS) as ErrorCode[]).sort());
});

test('the three mappers agree: one code, its HTTP status, its JSON-RPC code, the same message', (t) => {
  for (const e of instances) {
    const http = toHttpError(e);
    const rpc = toJsonRpcError(e, 7);
    const tool = toToolErrorResult(e);
    t.is(http.status, ERRORS[e.code].http);
    t.is(http.body.error.code, e.code);
    t.is(rpc.status, http.status);
    t.is(rpc.body.error.code, ERRORS[e.code].jsonRpc);
    t.is(rpc.body.error.data.code, e.code);
    t.is(rpc.body.id, 7);
    t.true(tool.isError);
    t.regex((tool.content[0] as { text: string }).text, new RegExp(`^${e.code}: boom`));
    t.is(toMcpError(e).code, ERRORS[e.code].jsonRpc);
  }
});

test('resource-level codes: not_found is -32002, invalid_input -32602, a missing session -32001', (t) => {
  t.is(toJsonRpcError(new errors.NotFoundError('x')).body.error.code, -32002);
  t.is(toJsonRpcError(new errors.InvalidInputError('x')).body.error.code, -32602);
  t.is(toJsonRpcError(new errors.SessionNotFoundError('x')).body.error.code, -32001);
});

test('details (retry_after_s) travel on every surface; an unknown error becomes internal without its text', (t) => {
  const busy = new errors.BusyError('full', { details: { retry_after_s: 3 } });
  t.is(toHttpError(busy).body.error['retry_after_s'], 3);
  t.is(toJsonRpcError(busy).body.error.data['retry_after_s'], 3);
  t.regex((toToolErrorResult(busy).content[0] as { text: string }).text, /"retry_after_s":3/);
  const leaked = toHttpError(new Error('secret token abc'));
  t.is(leaked.status, 500);
  t.is(leaked.body.error.code, 'internal');
  t.notRegex(JSON.stringify(leaked), /secret/);
});

test('the README lists every error code with its HTTP and JSON-RPC code', (t) => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  for (const [code, spec] of Object.entries(ERRORS)) t.true(readme.includes(`| \`${code}\` | ${spec.http} | ${spec.jsonRpc} |`), code);
});
