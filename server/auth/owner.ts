import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';

/** The owner of a request: the token's name, or "local" when Capsule runs without tokens (loopback or stdio). */
export function ownerOf(auth: AuthInfo | undefined): string {
  return auth?.clientId ?? 'local';
}
