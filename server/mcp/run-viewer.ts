import { RESOURCE_MIME_TYPE, RESOURCE_URI_META_KEY } from '@modelcontextprotocol/ext-apps/server';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { InternalError, toMcpError } from '../errors.js';
import { projectRoot } from '../version.js';
import type { ToolHost } from './tool-context.js';

/** The MCP App (extension io.modelcontextprotocol/ui) that shows a run inside the conversation. */
export const RUN_VIEWER_URI = 'ui://capsule/run-viewer';

/** Built by `npm run build` from ui/run-viewer/ into one self-contained HTML file (scripts and styles inlined). */
export const RUN_VIEWER_FILE = join(projectRoot, 'dist', 'ui', 'run-viewer.html');

/**
 * `_meta` of the run tools: hosts that render MCP Apps show the run viewer for their results; hosts that
 * do not ignore it and get the same results. The flat key is the extension's deprecated spelling, still
 * read by older hosts (the ext-apps `registerAppTool` helper sets both the same way).
 */
export const RUN_VIEWER_TOOL_META = { ui: { resourceUri: RUN_VIEWER_URI }, [RESOURCE_URI_META_KEY]: RUN_VIEWER_URI };

/**
 * The run viewer resource, served as `text/html;profile=mcp-app`. The page needs no network and no
 * nested frames (the host's default CSP holds): it talks to Capsule only through the host's bridge
 * (tools/call for get_run, read_process_output, wait_process, container_stats, kill_process;
 * resources/read for a profile's profile.json).
 */
export function registerRunViewer(host: Pick<ToolHost, 'registerResource'>, file = RUN_VIEWER_FILE): void {
  let html: Promise<string> | null = null;
  host.registerResource(
    'run-viewer',
    RUN_VIEWER_URI,
    {
      title: 'Capsule run viewer',
      description: 'MCP App: live output, result, stats chart and flame graph of a Capsule run.',
      mimeType: RESOURCE_MIME_TYPE,
      _meta: { ui: { prefersBorder: true } },
    },
    async (uri): Promise<ReadResourceResult> => {
      try {
        html ??= readFile(file, 'utf8').catch((err: unknown) => {
          html = null;
          throw new InternalError(`the run viewer is not built (${(err as Error).message}): run \`npm run build\``);
        });
        return { contents: [{ uri: uri.href, mimeType: RESOURCE_MIME_TYPE, text: await html, _meta: { ui: { prefersBorder: true } } }] };
      } catch (err) {
        throw toMcpError(err);
      }
    },
  );
}
