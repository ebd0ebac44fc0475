import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { deleteFilesOutput } from '../../schemas/workspace-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
import { workspaceIdInput } from './workspace-format.js';

export const registerDeleteFiles: ToolRegistrar = (server, deps) => {
  const { workspaces } = deps;
  server.registerTool(
    'delete_files',
    {
      title: 'Delete files from a workspace',
      description: 'Deletes files and folders (recursively) from a workspace. Missing paths are not an error.',
      inputSchema: { workspace_id: workspaceIdInput, paths: z.array(z.string()).min(1).max(1000) },
      outputSchema: deleteFilesOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    guarded('delete_files', deps, async (args, extra) => {
      const deleted = await workspaces.deleteFiles(ownerOf(extra.authInfo), args.workspace_id, args.paths);
      return structuredResult(deleteFilesOutput, { deleted }, `deleted ${deleted.join(', ')}`);
    }),
  );
};
