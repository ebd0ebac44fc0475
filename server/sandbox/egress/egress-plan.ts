import { createHash } from 'node:crypto';

/**
 * Where the egress proxy's world lives on the engine (pure): names of its networks and volumes, and
 * the candidates for the internal network's subnet and bridge name. Each server (CAPSULE_INSTANCE)
 * has its own internal network, so two servers on one engine never share sandboxes' L2 segment.
 */

/** Host interface names are at most 15 characters; `capsule-egr` leaves 4 for the index. */
export const BRIDGE_PREFIX = 'capsule-egr';
/** Alternative bridge names per subnet when another network holds the first (capsule-egr5, -egr69, ...). */
const BRIDGE_TRIES = 16;
/** Most /22 (or smaller) candidates taken from the pool. */
const MAX_CANDIDATES = 64;

/** Names of the world's parts (the proxy container has none: it is found by its labels). */
export function egressNames(instance: string) {
  return {
    internal: `${instance}-egress-in`,
    outside: `${instance}-outside`,
    state: `${instance}-egress-state`,
    public: `${instance}-egress-public`,
  };
}

/** One way to lay out the internal network: subnet, gateway, the proxy's pinned address, the sandboxes' range. */
export interface InternalPlan {
  subnet: string;
  gateway: string;
  /** The proxy's address: outside ipRange, so no sandbox can be given it while the proxy is re-created. */
  proxyIp: string;
  /** Where sandboxes get their addresses: the upper half of the subnet. */
  ipRange: string;
  /** Bridge names to try, in order (the host firewall drops `capsule-egr+` in INPUT). */
  bridgeNames: string[];
}

const toInt = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/** Parse `a.b.c.d/p` (the config schema has checked its shape); the base is aligned to the prefix. */
export function parseCidr(cidr: string): { base: number; prefix: number } {
  const [ip, bits] = cidr.split('/') as [string, string];
  const prefix = Number(bits);
  const size = 2 ** (32 - prefix);
  return { base: Math.floor(toInt(ip) / size) * size, prefix };
}

/**
 * The candidates from `pool` (CAPSULE_EGRESS_SUBNET): /22 networks (1022 addresses, 510 for sandboxes)
 * out of a larger pool, or the pool itself when it is a /22 to /24; tried in an order that starts at
 * a hash of the instance name, so servers sharing an engine usually get different ones at once.
 */
export function internalCandidates(pool: string, instance: string): InternalPlan[] {
  const { base, prefix } = parseCidr(pool);
  const netPrefix = Math.max(prefix, 22);
  const count = Math.min(2 ** (netPrefix - prefix), MAX_CANDIDATES);
  const size = 2 ** (32 - netPrefix);
  const start = createHash('sha256').update(instance).digest().readUInt32BE(0) % count;
  return Array.from({ length: count }, (_, k) => {
    const i = (start + k) % count;
    const net = base + i * size;
    return {
      subnet: `${toIp(net)}/${netPrefix}`,
      gateway: toIp(net + 1),
      proxyIp: toIp(net + 2),
      ipRange: `${toIp(net + size / 2)}/${netPrefix + 1}`,
      bridgeNames: Array.from({ length: BRIDGE_TRIES }, (_, j) => `${BRIDGE_PREFIX}${i + MAX_CANDIDATES * j}`),
    };
  });
}
