import type { NetworkInfo, NetworkSpec } from '../../server/runtime/container-runtime.js';
import { NetworkConflictError, NetworkInUseError } from '../../server/runtime/runtime-errors.js';

// The fake engine's networks: names, subnets, bridge names and address allocation, with the conflicts
// and in-use refusals Docker has (the contract holds both to them).

const toInt = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/** [first, last] address of a CIDR. */
function range(cidr: string): [number, number] {
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  const first = Math.floor(toInt(base) / size) * size;
  return [first, first + size - 1];
}

const overlaps = (a: string, b: string) => {
  const [a1, a2] = range(a);
  const [b1, b2] = range(b);
  return a1 <= b2 && b1 <= a2;
};

interface FakeNetwork {
  id: string;
  spec: NetworkSpec;
  /** container id → its address on this network ('' without a subnet). */
  members: Map<string, string>;
}

let counter = 0;

export class FakeNetworks {
  readonly byName = new Map<string, FakeNetwork>();

  create(spec: NetworkSpec): string {
    if (this.byName.has(spec.name)) throw new NetworkConflictError(spec.name, 'name');
    const others = [...this.byName.values()].map((n) => n.spec);
    if (spec.subnet && others.some((o) => o.subnet && overlaps(o.subnet, spec.subnet!))) throw new NetworkConflictError(spec.name, 'subnet');
    if (spec.bridgeName && others.some((o) => o.bridgeName === spec.bridgeName)) throw new NetworkConflictError(spec.name, 'bridge');
    const id = `fakenet${++counter}`;
    this.byName.set(spec.name, { id, spec, members: new Map() });
    return id;
  }

  remove(name: string): void {
    const network = this.find(name);
    if (!network) return;
    if (network.members.size > 0) throw new NetworkInUseError(name);
    this.byName.delete(network.spec.name);
  }

  /** Join a container to a network, at `ip` when given; false when there is no such network. */
  connect(name: string, containerId: string, ip?: string): boolean {
    const network = this.find(name);
    if (!network) return false;
    const { subnet, ipRange, gateway } = network.spec;
    if (!subnet) {
      network.members.set(containerId, '');
      return true;
    }
    const taken = new Set([...network.members.values(), gateway ?? toIp(range(subnet)[0] + 1)]);
    if (ip) {
      const [first, last] = range(subnet);
      if (toInt(ip) <= first || toInt(ip) >= last || taken.has(ip)) throw new Error(`address ${ip} is not available on ${name}`);
      network.members.set(containerId, ip);
      return true;
    }
    // Like Docker: the range's first address is handed out (the subnet's own is not), the gateway never.
    const [first, last] = range(ipRange ?? subnet);
    for (let n = ipRange ? first : first + 1; n < last; n++) {
      if (!taken.has(toIp(n))) {
        network.members.set(containerId, toIp(n));
        return true;
      }
    }
    throw new Error(`no address left on ${name}`);
  }

  /** A removed container leaves every network. */
  leave(containerId: string): void {
    for (const n of this.byName.values()) n.members.delete(containerId);
  }

  /** The container's address on each network it is on. */
  addressesOf(containerId: string): Record<string, string> {
    return Object.fromEntries([...this.byName.values()].flatMap((n) => (n.members.has(containerId) ? [[n.spec.name, n.members.get(containerId)!]] : [])));
  }

  list(matches: (labels: Record<string, string>) => boolean): NetworkInfo[] {
    return [...this.byName.values()]
      .filter((n) => matches(n.spec.labels))
      .map((n) => ({ id: n.id, name: n.spec.name, labels: n.spec.labels, internal: n.spec.internal, subnet: n.spec.subnet ?? null }));
  }

  private find(nameOrId: string): FakeNetwork | undefined {
    return this.byName.get(nameOrId) ?? [...this.byName.values()].find((n) => n.id === nameOrId);
  }
}
