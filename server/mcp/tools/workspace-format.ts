import { z } from 'zod';

export const workspaceIdInput = z.string().describe('From create_workspace (ws_ and 16 hex digits).');
