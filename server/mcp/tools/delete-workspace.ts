import { ownerOf } from '../../auth/owner.js';
import { deleteWorkspaceOutput } from '../../schemas/workspace-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
import { workspaceIdInput } from './workspace-format.js';

export const registerDeleteWorkspace: ToolRegistrar = (server, deps) => {
  const { workspaces } = deps;
  server.registerTool(
    'delete_workspace',
    {
      title: 'Delete a workspace',
      description: 'Deletes a workspace and all its files. Refused (busy) while a run or process is using it.',
      inputSchema: { workspace_id: workspaceIdInput },
      outputSchema: deleteWorkspaceOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    guarded('delete_workspace', deps, async (args, extra) => {
      await workspaces.delete(ownerOf(extra.authInfo), args.workspace_id);
      return structuredResult(deleteWorkspaceOutput, { workspace_id: args.workspace_id, deleted: true }, `deleted ${args.workspace_id}`);
    }),
  );
};
