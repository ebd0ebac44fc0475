import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { readFileOutput } from '../../schemas/workspace-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
import { workspaceIdInput } from './workspace-format.js';

export const registerReadFile: ToolRegistrar = (server, deps) => {
  const { workspaces } = deps;
  server.registerTool(
    'read_file',
    {
      title: 'Read a file from a workspace',
      description:
        'Reads a file (or a byte range of it) from a workspace. Symlinks are followed only while they stay inside the workspace. ' +
        'encoding "utf8" (default) or "base64" for binary files.',
      inputSchema: {
        workspace_id: workspaceIdInput,
        path: z.string().describe('Path relative to /workspace.'),
        encoding: z.enum(['utf8', 'base64']).optional(),
        offset: z.number().int().min(0).optional().describe('First byte to read (default 0).'),
        max_bytes: z.number().int().positive().max(4 << 20).optional().describe('Most bytes to return (default 1 MiB, max 4 MiB).'),
      },
      outputSchema: readFileOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('read_file', deps, async (args, extra) => {
      const f = await workspaces.readFile(ownerOf(extra.authInfo), args.workspace_id, args.path, args.offset ?? 0, args.max_bytes ?? 1 << 20);
      const encoding = args.encoding ?? 'utf8';
      const content = f.content.toString(encoding);
      const structured = { path: f.path, content, encoding, size: f.size, offset: f.offset, bytes: f.content.length, eof: f.eof, mime_type: f.mime_type };
      return structuredResult(readFileOutput, structured, encoding === 'utf8' ? content : `${f.path}: ${f.content.length} bytes (base64 in structured content)`);
    }),
  );
};
