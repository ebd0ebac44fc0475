import type { Request, Response } from 'express';
import { toHttpError } from '../errors.js';

/** Send an error through the one mapper; busy answers carry Retry-After. */
export function sendError(res: Response, err: unknown): void {
  const { status, body } = toHttpError(err);
  const retry = body.error['retry_after_s'];
  if (typeof retry === 'number') res.set('Retry-After', String(retry));
  res.status(status).json(body);
}

/**
 * An Express handler from an async function: a thrown error becomes the mapped JSON error, or, once a
 * streamed body (file, tar, SSE) has begun, a cut connection so the client sees it is incomplete.
 */
export const handle =
  (fn: (req: Request, res: Response) => Promise<void>) =>
  (req: Request, res: Response): void => {
    fn(req, res).catch((err: unknown) => (res.headersSent ? res.destroy() : sendError(res, err)));
  };
