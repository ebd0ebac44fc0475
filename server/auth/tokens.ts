import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthTokenVerifier } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { ConfigurationError } from '../errors.js';

/** A named token, kept only as its SHA-256. The name is the owner of everything made with it. */
export interface TokenEntry {
  name: string;
  sha256: Buffer;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** A new random token and the tokens-file line that admits it. */
export function newToken(name: string): { token: string; line: string } {
  if (!NAME.test(name)) throw new ConfigurationError(`token name "${name}" must match [A-Za-z0-9_.-]{1,64}`);
  const token = `cap_${randomBytes(24).toString('base64url')}`;
  return { token, line: `${name} sha256:${sha256(token).toString('hex')}` };
}

/** Tokens from CAPSULE_TOKENS (name:token,...) and CAPSULE_TOKENS_FILE (`name sha256:<hex>` lines). */
export function loadTokens(env: { CAPSULE_TOKENS?: string | undefined; CAPSULE_TOKENS_FILE?: string | undefined }): TokenEntry[] {
  const entries: TokenEntry[] = [];
  for (const pair of (env.CAPSULE_TOKENS ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const colon = pair.indexOf(':');
    const name = pair.slice(0, colon);
    const token = pair.slice(colon + 1);
    if (colon < 1 || !NAME.test(name) || token.length < 16) {
      throw new ConfigurationError('CAPSULE_TOKENS entries must be name:token with a name of [A-Za-z0-9_.-] and a token of at least 16 characters');
    }
    entries.push({ name, sha256: sha256(token) });
  }
  if (env.CAPSULE_TOKENS_FILE) {
    let text: string;
    try {
      text = readFileSync(env.CAPSULE_TOKENS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigurationError(`CAPSULE_TOKENS_FILE ${env.CAPSULE_TOKENS_FILE}: ${(err as Error).message}`);
    }
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const m = /^(\S+)\s+sha256:([0-9a-f]{64})$/i.exec(line);
      if (!m || !NAME.test(m[1]!)) {
        throw new ConfigurationError(`CAPSULE_TOKENS_FILE line ${i + 1}: expected "name sha256:<64 hex digits>" (make one with \`capsule new-token <name>\`)`);
      }
      entries.push({ name: m[1]!, sha256: Buffer.from(m[2]!, 'hex') });
    });
  }
  const names = entries.map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ConfigurationError(`token name "${dup}" is defined twice`);
  return entries;
}

/**
 * Verifies bearer tokens against the configured hashes for the SDK's requireBearerAuth middleware.
 * Every entry is compared (constant time, no early exit), so timing reveals neither which token
 * matched nor how much of it.
 */
export class StaticTokenVerifier implements OAuthTokenVerifier {
  constructor(private readonly entries: TokenEntry[]) {}

  async verifyAccessToken(token: string): Promise<AuthInfo> {
    const presented = sha256(token);
    let match: TokenEntry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(presented, entry.sha256) && !match) match = entry;
    }
    if (!match) throw new InvalidTokenError('unknown token');
    // Static tokens do not expire; the SDK middleware requires an expiry, so give one a day ahead.
    return { token, clientId: match.name, scopes: [], expiresAt: Math.floor(Date.now() / 1000) + 86_400 };
  }
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
