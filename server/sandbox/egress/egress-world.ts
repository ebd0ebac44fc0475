import { ConfigurationError } from '../../errors.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import { NetworkConflictError } from '../../runtime/runtime-errors.js';
import { egressLabels, type InstanceIdentity, LABEL, ofInstance } from '../container/labels.js';
import { egressNames, internalCandidates, type InternalPlan } from './egress-plan.js';

/** The networks and volumes the egress proxy lives in; they outlive proxy re-creations. */
export interface EgressWorld {
  /** The network the proxy reaches the outside through. */
  outside: string;
  /** True when Capsule created it (and removes it at shutdown). */
  ownsOutside: boolean;
  internal: string;
  plan: Omit<InternalPlan, 'bridgeNames'> & { bridgeName: string };
  stateVolume: string;
  publicVolume: string;
}

export interface WorldOptions {
  runtime: ContainerRuntime;
  instance: InstanceIdentity;
  /** CAPSULE_EGRESS_NETWORK: an existing network to use as the outside leg. */
  outsideNetwork?: string;
  /** CAPSULE_EGRESS_SUBNET. */
  subnetPool: string;
}

/** Create the world; on failure, remove what this call created and rethrow. */
export async function createWorld(opts: WorldOptions): Promise<EgressWorld> {
  const { runtime, instance } = opts;
  const names = egressNames(instance.name);
  const undo: Array<() => Promise<void>> = [];
  try {
    const outside = await outsideNetwork(opts, names.outside);
    if (outside.created) undo.push(() => runtime.removeNetwork(outside.name));
    const plan = await internalNetwork(opts, names.internal);
    undo.push(() => runtime.removeNetwork(names.internal));
    for (const [volume, part] of [[names.state, 'state'], [names.public, 'public']] as const) {
      await runtime.createVolume(volume, egressLabels(part, instance));
      undo.push(() => runtime.removeVolume(volume));
    }
    return { outside: outside.name, ownsOutside: outside.created, internal: names.internal, plan, stateVolume: names.state, publicVolume: names.public };
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

/**
 * Remove the world (after the proxy container and the sandboxes on the internal network are gone).
 * Every part is tried; the error of each that could not be removed is returned (the reaper retries).
 */
export async function removeWorld(runtime: ContainerRuntime, world: EgressWorld): Promise<Error[]> {
  const steps = [
    () => runtime.removeNetwork(world.internal),
    ...(world.ownsOutside ? [() => runtime.removeNetwork(world.outside)] : []),
    () => runtime.removeVolume(world.stateVolume),
    () => runtime.removeVolume(world.publicVolume),
  ];
  const errors: Error[] = [];
  for (const step of steps) await step().catch((err: Error) => errors.push(err));
  return errors;
}

async function outsideNetwork(opts: WorldOptions, defaultName: string): Promise<{ name: string; created: boolean }> {
  const { runtime, instance } = opts;
  if (opts.outsideNetwork) {
    // An operator's network (an egress firewall, a proxy chain): never created in its place.
    if (!(await runtime.networkExists(opts.outsideNetwork))) {
      throw new ConfigurationError(`CAPSULE_EGRESS_NETWORK: network "${opts.outsideNetwork}" does not exist (docker network create ${opts.outsideNetwork}, or unset it to let Capsule create ${defaultName})`);
    }
    return { name: opts.outsideNetwork, created: false };
  }
  if (await runtime.networkExists(defaultName)) {
    // One an earlier start of this server made (still in use when it was swept) is this server's to remove.
    const ours = await runtime.listNetworks(ofInstance(instance, { [LABEL.egress]: 'outside' }));
    return { name: defaultName, created: ours.some((n) => n.name === defaultName) };
  }
  try {
    await runtime.createNetwork({ name: defaultName, labels: egressLabels('outside', instance), internal: false });
    return { name: defaultName, created: true };
  } catch (err) {
    if (err instanceof NetworkConflictError && err.conflict === 'name') return { name: defaultName, created: false };
    throw err;
  }
}

/** The internal network: the first free subnet of the pool, with a bridge name the host firewall matches. */
async function internalNetwork(opts: WorldOptions, name: string): Promise<EgressWorld['plan']> {
  const { runtime, instance } = opts;
  for (const candidate of internalCandidates(opts.subnetPool, instance.name)) {
    const { bridgeNames, ...plan } = candidate;
    for (const bridgeName of bridgeNames) {
      try {
        await runtime.createNetwork({ name, labels: egressLabels('internal', instance), internal: true, subnet: plan.subnet, gateway: plan.gateway, ipRange: plan.ipRange, bridgeName });
        return { ...plan, bridgeName };
      } catch (err) {
        if (!(err instanceof NetworkConflictError)) throw err;
        if (err.conflict === 'name') {
          throw new ConfigurationError(`network ${name} exists and could not be removed (something still uses it): docker network rm ${name}, or give this server another CAPSULE_INSTANCE`, { cause: err });
        }
        if (err.conflict === 'subnet') break;
      }
    }
  }
  throw new ConfigurationError(`CAPSULE_EGRESS_SUBNET: no free subnet left in ${opts.subnetPool} for the internal egress network (other networks use them): pick another range`);
}
