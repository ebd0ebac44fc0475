import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { guarded, jsonResult, type ToolRegistrar } from '../tool-context.js';
import { workspaceIdInput } from './workspace-format.js';

export const registerListFiles: ToolRegistrar = (server, deps) => {
  const { workspaces } = deps;
  server.registerTool(
    'list_files',
    {
      title: 'List files in a workspace',
      description: 'Lists a folder of a workspace (recursively with recursive: true): name, type, size, mode and modification time.',
      inputSchema: {
        workspace_id: workspaceIdInput,
        path: z.string().optional().describe('Folder relative to /workspace (default the root).'),
        recursive: z.boolean().optional(),
      },
      outputSchema: {
        entries: z.array(
          z.object({ path: z.string(), type: z.enum(['file', 'directory', 'symlink', 'other']), size: z.number().int(), mode: z.number().int(), mtime: z.string() }),
        ),
        truncated: z.boolean().describe('True when the listing stopped at 10000 entries.'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_files', deps, async (args, extra) => {
      const r = await workspaces.listFiles(ownerOf(extra.authInfo), args.workspace_id, args.path ?? '', args.recursive ?? false);
      const text = r.entries.map((e) => `${e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : '-'} ${e.size.toString().padStart(10)} ${e.path}`).join('\n') || '(empty)';
      return jsonResult({ ...r }, text);
    }),
  );
};
