import { z } from 'zod';
import { restRunBody } from '../schemas/run-inputs.js';
import { runRecordObject, runResultObject } from '../schemas/run-outputs.js';
import { CAPSULE_VERSION } from '../version.js';
import { dashboardPaths, listRunsOperation, workspacePaths } from './openapi-dashboard.js';
import { error, idParam, json } from './openapi-parts.js';

const accepted = z.object({
  run_id: z.string(),
  process_id: z.string(),
  status: z.literal('running'),
  links: z.object({ self: z.string(), events: z.string() }),
});

/** The OpenAPI 3.1 document of the REST API, generated from the same zod schemas the server validates with. */
export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'Capsule REST API', version: CAPSULE_VERSION, description: 'Runs in fresh, locked-down containers. Same bearer tokens as /mcp.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/v1/runs': {
        get: listRunsOperation,
        post: {
          operationId: 'createRun',
          summary: 'Run a command or a code block',
          description: 'The body is a run_command input (with `command`) or a run_code input (with `language` and `code`). With ?wait=true the result is returned when the run ends; otherwise 202 and the run continues in the background.',
          parameters: [{ name: 'wait', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false', '1', '0'] } }],
          requestBody: { required: true, content: json(restRunBody) },
          responses: {
            '200': { description: 'The run ended (wait=true).', content: json(runResultObject) },
            '202': { description: 'Started; poll or stream it.', content: json(accepted) },
            '400': error('Invalid input.'),
            '401': error('Missing or wrong bearer token.'),
            '403': error('Profile disabled.'),
            '404': error('Unknown profile.'),
            '429': error('Busy: retry after the Retry-After header.'),
            '503': error('Engine unreachable or image missing.'),
          },
        },
      },
      '/v1/runs/{id}': {
        get: {
          operationId: 'getRun',
          summary: 'A run record, with its result once finished',
          parameters: [idParam],
          responses: { '200': { description: 'The record.', content: json(runRecordObject) }, '404': error('No such run for this owner.') },
        },
        delete: {
          operationId: 'killRun',
          summary: 'Kill a background run',
          parameters: [idParam, { name: 'signal', in: 'query', required: false, schema: { type: 'string' } }],
          responses: { '200': { description: 'The run after the kill.', content: json(z.object({ run_id: z.string(), process_id: z.string(), status: z.string(), result: runResultObject.nullable() })) }, '404': error('No live run with this id.') },
        },
      },
      '/v1/runs/{id}/events': {
        get: {
          operationId: 'runEvents',
          summary: 'Server-sent events: stdout, stderr, dropped, exit',
          description: 'Each output event has an id (a byte offset); reconnect with Last-Event-ID to resume after it. The last event is `exit` with the result.',
          parameters: [idParam, { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } }],
          responses: { '200': { description: 'An event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '404': error('No such run.') },
        },
      },
      ...dashboardPaths(),
      ...workspacePaths(),
    },
  };
}
