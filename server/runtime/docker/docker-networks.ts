import type { CallOptions, NetworkInfo, NetworkSpec } from '../container-runtime.js';
import { NetworkConflictError, NetworkInUseError } from '../runtime-errors.js';
import type { DockerClient } from './docker-client.js';
import { engineStatus } from './docker-errors.js';
import { labelFilter } from './docker-volumes.js';

/** The bridge driver's option that names the host interface (default br-<id>). */
const BRIDGE_NAME = 'com.docker.network.bridge.name';

/**
 * What a refused create ran into. Docker 20.10 answers 409 for a taken name and 403 for the other two,
 * told apart only by the message (measured: "Pool overlaps with other one on this address space",
 * "... conflicts with network ...: networks have same bridge name").
 */
function conflictOf(err: unknown): 'name' | 'subnet' | 'bridge' | null {
  const status = engineStatus(err);
  const message = (err as Error).message;
  if (status === 409) return 'name';
  if (status === 403 && /overlaps/i.test(message)) return 'subnet';
  if (status === 403 && /same bridge name/i.test(message)) return 'bridge';
  return null;
}

/** A bridge network with labels, optionally internal, with a fixed subnet, address range and bridge name. */
export async function createNetwork(client: DockerClient, spec: NetworkSpec, options?: CallOptions): Promise<string> {
  const ipam = spec.subnet ? { Driver: 'default', Config: [{ Subnet: spec.subnet, ...(spec.gateway ? { Gateway: spec.gateway } : {}), ...(spec.ipRange ? { IPRange: spec.ipRange } : {}) }] } : undefined;
  const body = {
    Name: spec.name,
    Driver: 'bridge',
    CheckDuplicate: true,
    Internal: spec.internal,
    Labels: spec.labels,
    ...(ipam ? { IPAM: ipam } : {}),
    ...(spec.bridgeName ? { Options: { [BRIDGE_NAME]: spec.bridgeName } } : {}),
  };
  try {
    const network = await client.call('createNetwork', options, (abortSignal) => client.docker.createNetwork({ ...body, abortSignal }));
    return network.id;
  } catch (err) {
    const conflict = conflictOf(err);
    if (conflict) throw new NetworkConflictError(spec.name, conflict, { cause: err });
    throw err;
  }
}

/** A missing network is not an error; one with members is NetworkInUseError. */
export async function removeNetwork(client: DockerClient, name: string, options?: CallOptions): Promise<void> {
  try {
    await client.call('removeNetwork', options, (abortSignal) => client.docker.getNetwork(name).remove({ abortSignal }));
  } catch (err) {
    const status = engineStatus(err);
    if (status === 404) return;
    // 403 "error while removing network: ... has active endpoints" (Docker 20.10).
    if (status === 403 && /active endpoints/i.test((err as Error).message)) throw new NetworkInUseError(name, { cause: err });
    throw err;
  }
}

/** Connect a container, at a pinned address when given. */
export async function connectNetwork(client: DockerClient, network: string, containerId: string, endpoint: { ipv4Address?: string } = {}, options?: CallOptions): Promise<void> {
  const body = { Container: containerId, ...(endpoint.ipv4Address ? { EndpointConfig: { IPAMConfig: { IPv4Address: endpoint.ipv4Address } } } : {}) };
  // Dialled directly: dockerode's typings of network.connect take no abortSignal (its code passes one on).
  await client.call('connectNetwork', options, (abortSignal) =>
    new Promise<void>((resolve, reject) =>
      client.docker.modem.dial(
        { path: `/networks/${encodeURIComponent(network)}/connect`, method: 'POST', abortSignal, options: body, statusCodes: { 200: true, 201: true, 403: 'forbidden', 404: 'not found', 500: 'server error' } },
        (err) => (err ? reject(err) : resolve()),
      ),
    ),
  );
}

/** Networks carrying every label ('' matches any value). */
export async function listNetworks(client: DockerClient, labels: Record<string, string>, options?: CallOptions): Promise<NetworkInfo[]> {
  const rows = await client.call('listNetworks', options, (abortSignal) => client.docker.listNetworks({ filters: { label: labelFilter(labels) }, abortSignal }));
  return rows.map((n) => ({
    id: n.Id,
    name: n.Name,
    labels: n.Labels ?? {},
    internal: n.Internal === true,
    subnet: n.IPAM?.Config?.find((c) => c.Subnet && !c.Subnet.includes(':'))?.Subnet ?? null,
  }));
}
