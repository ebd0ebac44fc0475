import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { listFilesOutput } from '../../schemas/workspace-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
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
      outputSchema: listFilesOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_files', deps, async (args, extra) => {
      const r = await workspaces.listFiles(ownerOf(extra.authInfo), args.workspace_id, args.path ?? '', args.recursive ?? false);
      const text = r.entries.map((e) => `${e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : '-'} ${e.size.toString().padStart(10)} ${e.path}`).join('\n') || '(empty)';
      return structuredResult(listFilesOutput, r, text);
    }),
  );
};
