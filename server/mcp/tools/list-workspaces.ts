import { ownerOf } from '../../auth/owner.js';
import { listWorkspacesOutput } from '../../schemas/workspace-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerListWorkspaces: ToolRegistrar = (server, deps) => {
  const { workspaces } = deps;
  server.registerTool(
    'list_workspaces',
    {
      title: 'List workspaces',
      description: 'Lists your workspaces with size, file count, creation and expiry times.',
      inputSchema: {},
      outputSchema: listWorkspacesOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_workspaces', deps, async (_args, extra) => {
      const list = await workspaces.list(ownerOf(extra.authInfo));
      const text = list.length ? list.map((w) => `${w.workspace_id}: ${w.files} entries, ${w.bytes} bytes, expires ${w.expires_at}`).join('\n') : 'no workspaces';
      return structuredResult(listWorkspacesOutput, { workspaces: list }, text);
    }),
  );
};
