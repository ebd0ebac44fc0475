import { z } from 'zod';
import { errorBody } from '../schemas/run-inputs.js';

/** A JSON body described by a zod schema (JSON Schema draft 2020-12, what OpenAPI 3.1 uses). */
export const json = (schema: z.ZodType) => ({ 'application/json': { schema: z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any' }) } });

/** An error answer: always `{error: {code, message, ...}}`. */
export const error = (description: string) => ({ description, content: json(errorBody) });

export const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'A run_id (or process_id).' };
export const workspaceParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'A workspace_id.' };

/** Query parameters from a zod object of optional fields. */
export function queryParams(schema: z.ZodObject): Array<Record<string, unknown>> {
  return Object.entries(schema.shape).map(([name, field]) => ({
    name,
    in: 'query',
    required: false,
    schema: z.toJSONSchema(field as z.ZodType, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' }),
    ...((field as z.ZodType).description ? { description: (field as z.ZodType).description } : {}),
  }));
}
