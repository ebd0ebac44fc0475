import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { ownerOf } from '../auth/owner.js';
import { InvalidInputError, toMcpError } from '../errors.js';
import { capsuleUri, URI_TEMPLATES } from '../schemas/uris.js';
import type { ToolDeps, ToolHost } from './tool-context.js';

const MAX_RESOURCE_BYTES = 8 << 20;

function one(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join('/') : (value ?? '');
}

/**
 * A resource reader whose errors answer with their registry's JSON-RPC code (a missing workspace is
 * -32002 "resource not found", bad input -32602), not the SDK's -32603 for an error without a code.
 */
function reader<A extends unknown[]>(read: (...args: A) => Promise<ReadResourceResult>): (...args: A) => Promise<ReadResourceResult> {
  return async (...args) => {
    try {
      return await read(...args);
    } catch (err) {
      throw toMcpError(err);
    }
  };
}

function isText(mime: string, data: Buffer): boolean {
  if (/^text\/|json|xml|javascript|typescript|yaml|x-sh|x-python/.test(mime)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}

/** Run artifacts (flame graphs, profiles) as MCP resources: capsule://runs/{run_id}/{name}. */
export function registerArtifactResources(server: Pick<ToolHost, 'registerResource'>, { artifacts }: ToolDeps): void {
  server.registerResource(
    'run-artifact',
    new ResourceTemplate(URI_TEMPLATES.runArtifact, { list: undefined }),
    { title: 'Run artifact', description: 'flamegraph.html, profile.json, profile.pstats or server.cpuprofile of a profiled run or server profile.' },
    reader(async (uri, vars, extra): Promise<ReadResourceResult> => {
      const { data, mimeType } = artifacts.get(one(vars['run_id']), ownerOf(extra.authInfo), one(vars['name']));
      const text = mimeType.startsWith('text/') || mimeType === 'application/json';
      return { contents: [text ? { uri: uri.href, mimeType, text: data.toString('utf8') } : { uri: uri.href, mimeType, blob: data.toString('base64') }] };
    }),
  );
}

/** Workspaces and their files as MCP resources: capsule://workspaces/{id} and capsule://workspaces/{id}/files/{path}. */
export function registerWorkspaceResources(server: Pick<ToolHost, 'registerResource'>, { workspaces }: ToolDeps): void {
  server.registerResource(
    'workspace',
    new ResourceTemplate(URI_TEMPLATES.workspace, {
      list: async (extra) => ({
        resources: (await workspaces.list(ownerOf(extra.authInfo))).map((w) => ({
          uri: capsuleUri.workspace(w.workspace_id),
          name: w.workspace_id,
          description: `Workspace: ${w.files} entries, ${w.bytes} bytes, expires ${w.expires_at}`,
          mimeType: 'application/json',
        })),
      }),
    }),
    { title: 'Workspace', description: 'A workspace: its file listing as JSON.', mimeType: 'application/json' },
    reader(async (uri, vars, extra): Promise<ReadResourceResult> => {
      const listing = await workspaces.listFiles(ownerOf(extra.authInfo), one(vars['workspace_id']), '', true, 1000);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(listing, null, 2) }] };
    }),
  );

  server.registerResource(
    'workspace-file',
    new ResourceTemplate(URI_TEMPLATES.workspaceFile, { list: undefined }),
    { title: 'Workspace file', description: 'A file in a workspace (text or base64 blob, up to 8 MiB; larger files: read_file with offset or the REST route).' },
    reader(async (uri, vars, extra): Promise<ReadResourceResult> => {
      const f = await workspaces.readFile(ownerOf(extra.authInfo), one(vars['workspace_id']), decodeURIComponent(one(vars['path'])), 0, MAX_RESOURCE_BYTES + 1);
      if (f.size > MAX_RESOURCE_BYTES) {
        throw new InvalidInputError(`${f.path} is ${f.size} bytes, over the 8 MiB resource limit: use read_file with offset, or GET /v1/workspaces/.../files/${f.path}`);
      }
      const content = isText(f.mime_type, f.content)
        ? { uri: uri.href, mimeType: f.mime_type, text: f.content.toString('utf8') }
        : { uri: uri.href, mimeType: f.mime_type, blob: f.content.toString('base64') };
      return { contents: [content] };
    }),
  );
}
