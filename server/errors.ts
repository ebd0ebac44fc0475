import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * Capsule's typed errors and the ONE registry of what each code means on every surface. A code's HTTP
 * status and JSON-RPC code live in `ERRORS`; the three mappers at the bottom (MCP tool result, HTTP
 * body, JSON-RPC error) are the only places errors become answers. A command that exits non-zero is
 * a result, never one of these.
 */
export const ERRORS = {
  invalid_input: { http: 400, jsonRpc: -32602, what: 'a parameter is wrong; the message names it' },
  invalid_request: { http: 400, jsonRpc: -32600, what: 'the request itself is malformed (e.g. no session id and not an initialize)' },
  parse_error: { http: 400, jsonRpc: -32700, what: 'the body is not valid JSON' },
  payload_too_large: { http: 413, jsonRpc: -32600, what: 'the body is over CAPSULE_MAX_BODY_BYTES' },
  profile_not_found: { http: 404, jsonRpc: -32602, what: 'no sandbox profile of that name' },
  not_found: { http: 404, jsonRpc: -32002, what: 'no such run, process, workspace, file, artifact or key (or another owner\'s)' },
  session_not_found: { http: 404, jsonRpc: -32001, what: 'the MCP session expired or the server restarted: initialize again' },
  unauthorized: { http: 401, jsonRpc: -32000, what: 'missing or wrong bearer token' },
  forbidden: { http: 403, jsonRpc: -32000, what: 'not allowed for this owner or profile' },
  policy_denied: { http: 403, jsonRpc: -32000, what: "the profile's command policy refused the command or code; the message names the rule" },
  busy: { http: 429, jsonRpc: -32000, what: 'over a limit; retry after retry_after_s' },
  quota_exceeded: { http: 413, jsonRpc: -32000, what: 'a workspace, context or owner quota is full' },
  engine_unavailable: { http: 503, jsonRpc: -32000, what: 'the container engine does not answer' },
  image_missing: { http: 503, jsonRpc: -32000, what: 'the sandbox image is not on the engine' },
  shutting_down: { http: 503, jsonRpc: -32000, what: 'the server is stopping' },
  cancelled: { http: 499, jsonRpc: -32000, what: 'the client cancelled before the container started' },
  model_error: { http: 502, jsonRpc: -32000, what: 'the model endpoint of generate_code failed' },
  runtime_error: { http: 502, jsonRpc: -32000, what: 'the engine answered unexpectedly' },
  configuration_error: { http: 500, jsonRpc: -32603, what: 'a bad setting or profile (start-up only)' },
  internal: { http: 500, jsonRpc: -32603, what: 'a bug in Capsule; details are logged, never sent' },
} as const satisfies Record<string, { http: number; jsonRpc: number; what: string }>;

export type ErrorCode = keyof typeof ERRORS;

export abstract class CapsuleError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra, non-secret facts a client can act on (for example retry_after_s). */
  readonly details: Record<string, unknown>;
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options?.details ?? {};
  }
  get httpStatus(): number {
    return ERRORS[this.code].http;
  }
  get jsonRpcCode(): number {
    return ERRORS[this.code].jsonRpc;
  }
}

export class InvalidInputError extends CapsuleError {
  readonly code = 'invalid_input';
}
export class BadRequestError extends CapsuleError {
  readonly code = 'invalid_request';
}
export class ParseError extends CapsuleError {
  readonly code = 'parse_error';
}
export class PayloadTooLargeError extends CapsuleError {
  readonly code = 'payload_too_large';
}
export class ProfileNotFoundError extends CapsuleError {
  readonly code = 'profile_not_found';
}
export class NotFoundError extends CapsuleError {
  readonly code = 'not_found';
}
export class SessionNotFoundError extends CapsuleError {
  readonly code = 'session_not_found';
}
export class UnauthorizedError extends CapsuleError {
  readonly code = 'unauthorized';
}
export class ForbiddenError extends CapsuleError {
  readonly code = 'forbidden';
}
/** A profile's command policy (profile-policy.ts) refused a command or program before any container existed. */
export class PolicyDeniedError extends CapsuleError {
  readonly code = 'policy_denied';
}
export class BusyError extends CapsuleError {
  readonly code = 'busy';
}
/** A session cap is full (CAPSULE_MAX_SESSIONS, CAPSULE_OWNER_MAX_SESSIONS, GET streams of one session): `busy`, naming the cap. */
export class SessionLimitError extends BusyError {
  constructor(message: string, limit: { limit: string; max: number; retry_after_s: number }) {
    super(message, { details: { ...limit } });
  }
}
export class QuotaExceededError extends CapsuleError {
  readonly code = 'quota_exceeded';
}
export class EngineUnavailableError extends CapsuleError {
  readonly code = 'engine_unavailable';
}
export class ImageMissingError extends CapsuleError {
  readonly code = 'image_missing';
}
export class ShuttingDownError extends CapsuleError {
  readonly code = 'shutting_down';
}
/** The client cancelled the call before its container started. */
export class CancelledError extends CapsuleError {
  readonly code = 'cancelled';
}
/** The model endpoint used by generate_code failed (unreachable, error status, malformed answer, timeout). */
export class ModelEndpointError extends CapsuleError {
  readonly code = 'model_error';
}
/** The engine answered, but not as expected (a bug in Capsule or the engine, not the caller's fault). */
export class RuntimeFailureError extends CapsuleError {
  readonly code = 'runtime_error';
}
/** A startup problem: a bad profile file, a bad setting. Never reaches a client. */
export class ConfigurationError extends CapsuleError {
  readonly code = 'configuration_error';
}
export class InternalError extends CapsuleError {
  readonly code = 'internal';
}

/** Any thrown value as a CapsuleError; unknown errors become `internal` without leaking their text. */
export function asCapsuleError(err: unknown): CapsuleError {
  if (err instanceof CapsuleError) return err;
  return new InternalError('internal error', { cause: err });
}

/** The stable code and the non-secret details, as every surface sends them. */
function payload(e: CapsuleError): { code: ErrorCode } & Record<string, unknown> {
  return { code: e.code, ...e.details };
}

/** Mapper 1: an error as an MCP tool result (`isError: true`, code and message in the text). */
export function toToolErrorResult(err: unknown): CallToolResult {
  const e = asCapsuleError(err);
  const detail = Object.keys(e.details).length ? ` ${JSON.stringify(e.details)}` : '';
  return { isError: true, content: [{ type: 'text', text: `${e.code}: ${e.message}${detail}` }] };
}

/** Mapper 2: an error as an HTTP status and the REST body `{error: {code, message, ...}}`. */
export function toHttpError(err: unknown): { status: number; body: { error: { code: string; message: string } & Record<string, unknown> } } {
  const e = asCapsuleError(err);
  return { status: e.httpStatus, body: { error: { ...payload(e), message: e.message } } };
}

export interface JsonRpcErrorBody {
  jsonrpc: '2.0';
  id: string | number | null;
  error: { code: number; message: string; data: { code: string } & Record<string, unknown> };
}

/** Mapper 3: an error as a JSON-RPC error response (and the HTTP status it travels with on /mcp). */
export function toJsonRpcError(err: unknown, id: string | number | null = null): { status: number; body: JsonRpcErrorBody } {
  const e = asCapsuleError(err);
  return { status: e.httpStatus, body: { jsonrpc: '2.0', id, error: { code: e.jsonRpcCode, message: e.message, data: payload(e) } } };
}

/**
 * The same, as the SDK's McpError, for handlers whose errors the SDK turns into JSON-RPC answers
 * (resources/read, tasks/*): the SDK sends an McpError's code, and -32603 for anything without one.
 * `jsonRpcCode` replaces the registry's where the protocol fixes the code (MCP tasks: an unknown task
 * id is -32602); the Capsule code still travels in `data.code`.
 */
export function toMcpError(err: unknown, jsonRpcCode?: number): McpError {
  const e = asCapsuleError(err);
  return new McpError(jsonRpcCode ?? e.jsonRpcCode, e.message, payload(e));
}
