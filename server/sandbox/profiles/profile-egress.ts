import { ConfigurationError } from '../../errors.js';
import type { EgressSpec } from '../../egress/egress-schema.js';
import type { ProfileInfo } from '../../schemas/system-outputs.js';

/**
 * The `egress:` key of a profile, beside the rest of it: egress and `network:` are two ways out and
 * exclusive, and an egress profile has no warm pool (a run registers with the proxy before its
 * container exists, and a warm one would sit on the shared internal network with nothing to do).
 */
export function checkEgressProfile(source: string, p: { egress?: EgressSpec; network: string; pool: { size: number } }): void {
  if (!p.egress) return;
  if (p.network !== 'none') {
    throw new ConfigurationError(`profile ${source}: egress: cannot be combined with network: ${p.network} (egress profiles reach out only through the egress proxy; drop one of them)`);
  }
  if (p.pool.size > 0) throw new ConfigurationError(`profile ${source}: pool.size: egress profiles take no warm pool (set pool.size: 0 or remove pool)`);
}

/** What list_profiles shows of an egress profile: the allowlist as written, methods, and secret names (never values). */
export function describeEgress(egress: EgressSpec): NonNullable<ProfileInfo['egress']> {
  return {
    allow: egress.allow.map((r) => r.source),
    methods: egress.methods ?? null,
    secrets: egress.secrets.map((s) => ({ name: s.name, hosts: s.hosts.map((h) => (h.wildcard ? `*.${h.host}` : h.host)) })),
  };
}
