import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';

// An independent check of structured content, strict about the schema itself (unlike the SDK client's
// lenient Ajv): the SDK lists zod's schemas as draft-07; zod's own default is 2020-12.
const byDialect = {
  'http://json-schema.org/draft-07/schema#': new Ajv({ allErrors: true, strict: true }),
  'https://json-schema.org/draft/2020-12/schema': new Ajv2020({ allErrors: true, strict: true }),
};
const compiled = new WeakMap<object, ValidateFunction>();

function compile(schema: Record<string, unknown>): ValidateFunction {
  const dialect = String(schema['$schema'] ?? 'http://json-schema.org/draft-07/schema#');
  const ajv = byDialect[dialect as keyof typeof byDialect];
  if (!ajv) throw new Error(`no validator for JSON Schema dialect ${dialect}`);
  return ajv.compile(schema);
}

/** Validate `value` against a listed JSON Schema: null when it conforms, else every violation in one line. */
export function schemaViolations(schema: Record<string, unknown>, value: unknown): string | null {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return null;
  return (validate.errors ?? [])
    .map((e) => `${e.instancePath || '/'} ${e.message}${'additionalProperty' in e.params ? ` (${String(e.params['additionalProperty'])})` : ''}`)
    .join('; ');
}
