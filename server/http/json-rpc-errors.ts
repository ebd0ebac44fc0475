import type { Response } from 'express';
import { toJsonRpcError } from '../errors.js';

/** The id of a single JSON-RPC request body, for its error answer (null when there is none: a batch, a notification). */
export function requestIdOf(body: unknown): string | number | null {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/** Send an error as a JSON-RPC error response through the one mapper; `busy` answers carry Retry-After. */
export function sendJsonRpcError(res: Response, err: unknown, id: string | number | null = null): void {
  const { status, body } = toJsonRpcError(err, id);
  const retry = body.error.data['retry_after_s'];
  if (typeof retry === 'number') res.set('Retry-After', String(retry));
  res.status(status).json(body);
}
