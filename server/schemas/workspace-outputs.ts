import { z } from 'zod';

// What the workspace tools return (create/list/delete_workspace, write_files, read_file, list_files, delete_files).

/** A workspace with its size and quota. */
export const workspaceInfoObject = z.object({
  workspace_id: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  bytes: z.number().int().describe('Total size of its files.'),
  files: z.number().int().describe('Number of files and folders.'),
  quota_bytes: z.number().int(),
  quota_files: z.number().int(),
  engine: z.string().optional().describe('Its home engine (with several engines): runs and file operations on it go there.'),
});

export const createWorkspaceOutput = workspaceInfoObject;
export const listWorkspacesOutput = z.object({ workspaces: z.array(workspaceInfoObject) });
export const deleteWorkspaceOutput = z.object({ workspace_id: z.string(), deleted: z.boolean() });

export const writeFilesOutput = z.object({
  written: z.array(z.object({ path: z.string(), bytes: z.number().int() })),
  workspace_bytes: z.number().int(),
  workspace_files: z.number().int(),
});

export const readFileOutput = z.object({
  path: z.string(),
  content: z.string(),
  encoding: z.enum(['utf8', 'base64']),
  size: z.number().int().describe('Size of the whole file.'),
  offset: z.number().int(),
  bytes: z.number().int().describe('Bytes returned.'),
  eof: z.boolean().describe('True when the returned range reaches the end of the file.'),
  mime_type: z.string(),
});

export const fileEntryObject = z.object({
  path: z.string(),
  type: z.enum(['file', 'directory', 'symlink', 'other']),
  size: z.number().int(),
  mode: z.number().int(),
  mtime: z.string(),
});

export const listFilesOutput = z.object({
  entries: z.array(fileEntryObject),
  truncated: z.boolean().describe('True when the listing stopped at 10000 entries.'),
});

export const deleteFilesOutput = z.object({ deleted: z.array(z.string()) });
