import { z } from 'zod';
import { entriesQuery, runArtifactList, runListObject, runListQuery, runStatsView, systemSummaryObject, whoamiObject } from '../schemas/dashboard.js';
import { deleteWorkspaceOutput, listFilesOutput, listWorkspacesOutput } from '../schemas/workspace-outputs.js';
import { error, idParam, json, queryParams, workspaceParam } from './openapi-parts.js';

const unauthorized = error('Missing or wrong bearer token.');
const pathParam = { name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: 'A path inside the workspace; may contain "/".' };
const binary = (type: string) => ({ [type]: { schema: { type: 'string', format: 'binary' } } });

/** The run routes the dashboard reads beyond the basic run API (list, stats, artifacts) and who-am-I / system. */
export function dashboardPaths() {
  return {
    '/v1/whoami': {
      get: { operationId: 'whoami', summary: 'Who the token is (the dashboard\'s sign-in check)', responses: { '200': { description: 'The caller.', content: json(whoamiObject) }, '401': unauthorized } },
    },
    '/v1/system': {
      get: {
        operationId: 'systemSummary',
        summary: 'Engines and their health, warm pool fill, sessions, runs per minute, errors by type',
        description: 'From the state and metrics the server already keeps. Run counts are the caller\'s own, or every owner\'s for owners in CAPSULE_ADMIN_OWNERS.',
        responses: { '200': { description: 'The summary.', content: json(systemSummaryObject) }, '401': unauthorized },
      },
    },
    '/v1/runs/{id}/stats': {
      get: {
        operationId: 'runStats',
        summary: 'Live stats of a running process (refreshed about once a second), or the final stats',
        parameters: [idParam],
        responses: { '200': { description: 'The stats.', content: json(runStatsView) }, '404': error('No such run for this owner.') },
      },
    },
    '/v1/runs/{id}/artifacts': {
      get: {
        operationId: 'listRunArtifacts',
        summary: 'The artifacts of a run (flame graph, profile)',
        parameters: [idParam],
        responses: { '200': { description: 'Artifact names and links.', content: json(runArtifactList) }, '404': error('No such run for this owner.') },
      },
    },
    '/v1/runs/{id}/artifacts/{name}': {
      get: {
        operationId: 'getRunArtifact',
        summary: 'One artifact: flamegraph.html, profile.json, profile.pstats or server.cpuprofile',
        parameters: [idParam, { name: 'name', in: 'path', required: true, schema: { type: 'string', enum: ['flamegraph.html', 'profile.json', 'profile.pstats', 'server.cpuprofile'] } }],
        responses: { '200': { description: 'The artifact.', content: { ...binary('text/html'), ...binary('application/json'), ...binary('application/octet-stream') } }, '404': error('No such artifact for this owner.') },
      },
    },
  };
}

/** GET /v1/runs: the list (the path also takes POST, documented with it). */
export const listRunsOperation = {
  operationId: 'listRuns',
  summary: 'Runs and processes, newest first, without their results',
  description:
    'Your own runs, or every owner\'s for owners in CAPSULE_ADMIN_OWNERS (who may also filter by owner). Answers with an ETag that changes when any run is recorded or finishes: send it back as If-None-Match to get 304 while nothing changed.',
  parameters: [...queryParams(runListQuery), { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } }],
  responses: {
    '200': { description: 'The runs.', content: json(runListObject) },
    '304': { description: 'Unchanged since the ETag sent.' },
    '400': error('Invalid query.'),
    '401': unauthorized,
    '403': error('Another owner\'s runs, asked by an owner who is not an admin.'),
  },
};

/** Workspaces: listing, entries, files, archives (always the caller's own). */
export function workspacePaths() {
  const noSuch = error('No such workspace (or file) for this owner.');
  return {
    '/v1/workspaces': {
      get: { operationId: 'listWorkspaces', summary: 'Your workspaces', responses: { '200': { description: 'The workspaces.', content: json(listWorkspacesOutput) }, '401': unauthorized } },
    },
    '/v1/workspaces/{id}': {
      delete: {
        operationId: 'deleteWorkspace',
        summary: 'Delete a workspace and its files (refused while a run uses it)',
        parameters: [workspaceParam],
        responses: { '200': { description: 'Deleted.', content: json(deleteWorkspaceOutput) }, '404': noSuch, '429': error('Busy: a run uses it.') },
      },
    },
    '/v1/workspaces/{id}/entries': {
      get: {
        operationId: 'listWorkspaceEntries',
        summary: 'The entries of a folder (or, recursively, everything under it)',
        parameters: [workspaceParam, ...queryParams(entriesQuery)],
        responses: { '200': { description: 'Entries.', content: json(listFilesOutput) }, '400': error('Bad path.'), '404': noSuch },
      },
    },
    '/v1/workspaces/{id}/files/{path}': {
      get: { operationId: 'readWorkspaceFile', summary: 'A file\'s raw bytes, with its MIME type', parameters: [workspaceParam, pathParam], responses: { '200': { description: 'The file.', content: binary('application/octet-stream') }, '404': noSuch } },
      put: {
        operationId: 'writeWorkspaceFile',
        summary: 'Write the raw body as a file (needs Content-Length; optional X-File-Mode)',
        parameters: [workspaceParam, pathParam, { name: 'X-File-Mode', in: 'header', required: false, schema: { type: 'string', pattern: '^[0-7]{3,4}$' } }],
        requestBody: { required: true, content: binary('application/octet-stream') },
        responses: { '201': { description: 'Written.', content: json(z.object({ path: z.string(), bytes: z.number(), workspace_bytes: z.number(), workspace_files: z.number() })) }, '404': noSuch, '413': error('Over the workspace quota.') },
      },
      delete: { operationId: 'deleteWorkspaceFile', summary: 'Delete a file or folder', parameters: [workspaceParam, pathParam], responses: { '200': { description: 'Deleted.', content: json(z.object({ deleted: z.array(z.string()) })) }, '404': noSuch } },
    },
    '/v1/workspaces/{id}/archive': {
      get: { operationId: 'downloadWorkspace', summary: 'The workspace as a tar', parameters: [workspaceParam], responses: { '200': { description: 'A tar stream.', content: binary('application/x-tar') }, '404': noSuch } },
      post: {
        operationId: 'uploadWorkspaceArchive',
        summary: 'Upload a tar (validated entry by entry; all or nothing)',
        parameters: [workspaceParam],
        requestBody: { required: true, content: binary('application/x-tar') },
        responses: { '201': { description: 'Uploaded.', content: json(z.object({ workspace_bytes: z.number(), workspace_files: z.number() })) }, '400': error('Bad archive.'), '404': noSuch },
      },
    },
  };
}
