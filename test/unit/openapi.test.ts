import test from 'ava';
import { Validator } from '@seriousme/openapi-schema-validator';
import { openApiDocument } from '../../server/http/openapi.js';

// Every route the dashboard (/ui) calls, as `METHOD path`: the UI uses nothing the document lacks.
const DASHBOARD_ROUTES = [
  'get /v1/whoami',
  'get /v1/system',
  'get /v1/runs',
  'get /v1/runs/{id}',
  'delete /v1/runs/{id}',
  'get /v1/runs/{id}/events',
  'get /v1/runs/{id}/stats',
  'get /v1/runs/{id}/artifacts',
  'get /v1/runs/{id}/artifacts/{name}',
  'get /v1/workspaces',
  'delete /v1/workspaces/{id}',
  'get /v1/workspaces/{id}/entries',
  'get /v1/workspaces/{id}/files/{path}',
  'delete /v1/workspaces/{id}/files/{path}',
  'get /v1/workspaces/{id}/archive',
];

test('the OpenAPI document is valid and lists every route the dashboard uses', async (t) => {
  const doc = openApiDocument();
  const result = await new Validator().validate(doc as Parameters<Validator['validate']>[0]);
  t.true(result.valid, JSON.stringify(result.errors));
  const paths = doc.paths as Record<string, Record<string, unknown>>;
  const listed = Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
  t.deepEqual(DASHBOARD_ROUTES.filter((r) => !listed.includes(r)), []);
});

test('the runs list documents its filters from the zod query schema', (t) => {
  const params = (openApiDocument().paths['/v1/runs'].get.parameters as Array<{ name: string; schema: { enum?: string[] } }>);
  t.deepEqual(params.map((p) => p.name), ['status', 'profile', 'owner', 'limit', 'before', 'If-None-Match']);
  t.true(params[0]!.schema.enum!.includes('oom_killed'));
});
