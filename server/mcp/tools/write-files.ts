import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { fileWriteObject } from '../../schemas/run-inputs.js';
import { writeFilesOutput } from '../../schemas/workspace-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
import { workspaceIdInput } from './workspace-format.js';

export const registerWriteFiles: ToolRegistrar = (server, deps) => {
  const { workspaces } = deps;
  server.registerTool(
    'write_files',
    {
      title: 'Write files into a workspace',
      description:
        'Writes one or more files (text or base64) into a workspace, creating folders as needed, all or nothing. Paths are ' +
        'relative to /workspace; "..", other absolute paths and symlinks leading out are refused. The workspace quota is checked first.',
      inputSchema: { workspace_id: workspaceIdInput, files: z.array(fileWriteObject).min(1).max(1000) },
      outputSchema: writeFilesOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    guarded('write_files', deps, async (args, extra) => {
      const r = await workspaces.writeFiles(ownerOf(extra.authInfo), args.workspace_id, args.files);
      return structuredResult(
        writeFilesOutput,
        { written: r.written, workspace_bytes: r.usage.bytes, workspace_files: r.usage.files },
        `wrote ${r.written.map((w) => `${w.path} (${w.bytes} bytes)`).join(', ')}`,
      );
    }),
  );
};
