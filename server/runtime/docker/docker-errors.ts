import { EngineUnavailableError, RuntimeFailureError } from '../../errors.js';

/** Transport failures that mean "no engine there" (no HTTP status came back). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

/** What dockerode/docker-modem reject with. */
export interface DockerodeError {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

/** The one translation of a dockerode failure into Capsule's typed errors. */
export function translate(err: DockerodeError, endpoint: string): Error {
  if (err.code && UNREACHABLE_CODES.has(err.code) && err.statusCode === undefined) {
    return new EngineUnavailableError(`Docker engine not reachable at ${endpoint} (${err.code})`, { cause: err });
  }
  const message = err.json?.message ?? err.reason ?? err.message ?? 'unknown engine error';
  return new RuntimeFailureError(`engine error${err.statusCode ? ` ${err.statusCode}` : ''}: ${message}`, {
    cause: err,
    details: { status: err.statusCode },
  });
}

/** The HTTP status of an engine error translate() made, if it had one. */
export function engineStatus(err: unknown): number | undefined {
  const status = err instanceof RuntimeFailureError ? err.details['status'] : undefined;
  return typeof status === 'number' ? status : undefined;
}
