import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { deleteContextOutput, getContextOutput, listContextOutput, setContextOutput } from '../../schemas/devtools-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

const keyInput = z.string().describe('1 to 200 characters of A-Z a-z 0-9 _ . : / -');

/** set_context, get_context, list_context, delete_context: a small key-value store per owner that outlives sessions. */
export const registerContextTools: ToolRegistrar = (server, deps) => {
  const { context } = deps;
  server.registerTool(
    'set_context',
    {
      title: 'Remember a value',
      description: 'Stores a JSON value under a key for later calls (and other sessions of the same owner); optional ttl_s. Values and totals are size-limited.',
      inputSchema: { key: keyInput, value: z.unknown().describe('Any JSON value.'), ttl_s: z.number().int().positive().optional() },
      outputSchema: setContextOutput,
      annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
    },
    guarded('set_context', deps, async (args, extra) => {
      const r = context.set(ownerOf(extra.authInfo), args.key, args.value, args.ttl_s);
      return structuredResult(setContextOutput, r, `stored ${r.key} (${r.bytes} bytes)`);
    }),
  );
  server.registerTool(
    'get_context',
    {
      title: 'Recall a value',
      description: 'Returns the value stored under a key (not_found when missing or expired).',
      inputSchema: { key: keyInput },
      outputSchema: getContextOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('get_context', deps, async (args, extra) => {
      const r = context.get(ownerOf(extra.authInfo), args.key);
      return structuredResult(getContextOutput, r, JSON.stringify(r.value));
    }),
  );
  server.registerTool(
    'list_context',
    {
      title: 'List remembered keys',
      description: 'Lists your keys with their sizes and expiry (not the values).',
      inputSchema: {},
      outputSchema: listContextOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_context', deps, async (_args, extra) => {
      const keys = context.list(ownerOf(extra.authInfo));
      return structuredResult(listContextOutput, { keys }, keys.map((k) => `${k.key} (${k.bytes} bytes)`).join('\n') || 'no keys');
    }),
  );
  server.registerTool(
    'delete_context',
    {
      title: 'Forget a value',
      description: 'Deletes a key.',
      inputSchema: { key: keyInput },
      outputSchema: deleteContextOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    guarded('delete_context', deps, async (args, extra) => {
      const deleted = context.delete(ownerOf(extra.authInfo), args.key);
      return structuredResult(deleteContextOutput, { key: args.key, deleted }, deleted ? `deleted ${args.key}` : `${args.key} did not exist`);
    }),
  );
};
