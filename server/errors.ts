import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * Capsule's typed errors. Each has a stable `code` clients can branch on and an HTTP status; the
 * mappers at the bottom are the ONLY places errors become MCP results or HTTP responses.
 * A command that exits non-zero is a result, never one of these.
 */
export abstract class CapsuleError extends Error {
  abstract readonly code: string;
  abstract readonly httpStatus: number;
  /** Extra, non-secret facts a client can act on (for example retry_after_s). */
  readonly details: Record<string, unknown>;
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options?.details ?? {};
  }
}

export class InvalidInputError extends CapsuleError {
  readonly code = 'invalid_input';
  readonly httpStatus = 400;
}
export class ProfileNotFoundError extends CapsuleError {
  readonly code = 'profile_not_found';
  readonly httpStatus = 404;
}
export class NotFoundError extends CapsuleError {
  readonly code = 'not_found';
  readonly httpStatus = 404;
}
export class UnauthorizedError extends CapsuleError {
  readonly code = 'unauthorized';
  readonly httpStatus = 401;
}
export class ForbiddenError extends CapsuleError {
  readonly code = 'forbidden';
  readonly httpStatus = 403;
}
export class BusyError extends CapsuleError {
  readonly code = 'busy';
  readonly httpStatus = 429;
}
/** A session cap is full (CAPSULE_MAX_SESSIONS, CAPSULE_OWNER_MAX_SESSIONS, GET streams of one session): `busy`, naming the cap. */
export class SessionLimitError extends BusyError {
  constructor(message: string, limit: { limit: string; max: number; retry_after_s: number }) {
    super(message, { details: { ...limit } });
  }
}
export class QuotaExceededError extends CapsuleError {
  readonly code = 'quota_exceeded';
  readonly httpStatus = 413;
}
export class EngineUnavailableError extends CapsuleError {
  readonly code = 'engine_unavailable';
  readonly httpStatus = 503;
}
export class ImageMissingError extends CapsuleError {
  readonly code = 'image_missing';
  readonly httpStatus = 503;
}
export class ShuttingDownError extends CapsuleError {
  readonly code = 'shutting_down';
  readonly httpStatus = 503;
}
/** The client cancelled the call before its container started. */
export class CancelledError extends CapsuleError {
  readonly code = 'cancelled';
  readonly httpStatus = 499;
}
/** The model endpoint used by generate_code failed (unreachable, error status, malformed answer, timeout). */
export class ModelEndpointError extends CapsuleError {
  readonly code = 'model_error';
  readonly httpStatus = 502;
}
/** The engine answered, but not as expected (a bug in Capsule or the engine, not the caller's fault). */
export class RuntimeFailureError extends CapsuleError {
  readonly code = 'runtime_error';
  readonly httpStatus = 502;
}
/** A startup problem: a bad profile file, a bad setting. Never reaches a client. */
export class ConfigurationError extends CapsuleError {
  readonly code = 'configuration_error';
  readonly httpStatus = 500;
}

export class InternalError extends CapsuleError {
  readonly code = 'internal';
  readonly httpStatus = 500;
}

/** Any thrown value as a CapsuleError; unknown errors become `internal` without leaking their text. */
export function asCapsuleError(err: unknown): CapsuleError {
  if (err instanceof CapsuleError) return err;
  return new InternalError('internal error', { cause: err });
}

/** The one mapping from an error to an MCP tool result (`isError: true`, code and message in the text). */
export function toToolErrorResult(err: unknown): CallToolResult {
  const e = asCapsuleError(err);
  const detail = Object.keys(e.details).length ? ` ${JSON.stringify(e.details)}` : '';
  return { isError: true, content: [{ type: 'text', text: `${e.code}: ${e.message}${detail}` }] };
}

/** JSON-RPC codes of the /mcp endpoint's own answers: the SDK's -32001 for a missing session, else the generic server error. */
function jsonRpcCodeOf(e: CapsuleError): number {
  return e.code === 'not_found' ? -32001 : -32000;
}

export interface JsonRpcErrorBody {
  jsonrpc: '2.0';
  id: string | number | null;
  error: { code: number; message: string; data: { code: string } & Record<string, unknown> };
}

/** The one mapping from an error to a JSON-RPC error response of /mcp (a refusal before any session takes the request). */
export function toJsonRpcError(err: unknown, id: string | number | null = null): { status: number; body: JsonRpcErrorBody } {
  const e = asCapsuleError(err);
  return { status: e.httpStatus, body: { jsonrpc: '2.0', id, error: { code: jsonRpcCodeOf(e), message: e.message, data: { code: e.code, ...e.details } } } };
}

/** The one mapping from an error to an HTTP status and JSON body. */
export function toHttpError(err: unknown): { status: number; body: { error: { code: string; message: string } & Record<string, unknown> } } {
  const e = asCapsuleError(err);
  return { status: e.httpStatus, body: { error: { code: e.code, message: e.message, ...e.details } } };
}
