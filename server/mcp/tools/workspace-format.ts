import { z } from 'zod';

export const workspaceInfoShape = {
  workspace_id: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  bytes: z.number().int().describe('Total size of its files.'),
  files: z.number().int().describe('Number of files and folders.'),
  quota_bytes: z.number().int(),
  quota_files: z.number().int(),
};

export const workspaceIdInput = z.string().describe('From create_workspace (ws_ and 16 hex digits).');
