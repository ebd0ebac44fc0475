import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { createWorkspaceOutput } from '../../schemas/workspace-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerCreateWorkspace: ToolRegistrar = (server, deps) => {
  const { workspaces } = deps;
  server.registerTool(
    'create_workspace',
    {
      title: 'Create a workspace',
      description:
        'Creates a persistent workspace (a Docker volume) for files that must survive between runs: pass its workspace_id to ' +
        'run_command/run_code/start_process to mount it at /workspace, and use write_files/read_file/list_files/delete_files. ' +
        'It is removed when its TTL ends (default 24 h).',
      inputSchema: { ttl_s: z.number().int().positive().optional().describe('Lifetime in seconds (default 86400, max 7 days).') },
      outputSchema: createWorkspaceOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    guarded('create_workspace', deps, async (args, extra) => {
      const ws = await workspaces.create(ownerOf(extra.authInfo), args.ttl_s);
      return structuredResult(createWorkspaceOutput, ws, `created ${ws.workspace_id} (expires ${ws.expires_at})`);
    }),
  );
};
