import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import type { SwarmNodeSource } from '../../runtime/swarm-nodes.js';
import type { InstanceIdentity } from '../container/labels.js';
import { WarmPool } from '../pool/warm-pool.js';
import type { ProfileRegistry } from '../profiles/profiles.js';
import { BoundedVolumes } from '../volumes/bounded-volumes.js';
import { WorkspaceService } from '../workspaces/workspace-service.js';
import type { EngineParts } from './engine.js';
import type { SwarmEngine } from './swarm-engines.js';

/** An engine as the composition root hands it over: a name, placement labels, a runtime. */
export interface EngineRuntime {
  name: string;
  labels: Record<string, string>;
  runtime: ContainerRuntime;
}

/** Engines from a Swarm manager: its node list, and how to reach a node's engine. */
export interface SwarmSetup {
  source: SwarmNodeSource;
  runtimeFor: (e: SwarmEngine) => ContainerRuntime;
}

/** Where the engines come from: a fixed list, or (with `swarm`) the first read of a Swarm's nodes, refreshed on a timer. */
export interface EngineSource {
  engines: EngineRuntime[];
  swarm?: SwarmSetup;
}

export interface EnginePartsDeps {
  config: Config;
  log: Logger;
  instance: InstanceIdentity;
  profiles: ProfileRegistry;
  /** More than one engine (or Swarm): each engine's subvolumes get their own folder of the volume root. */
  many: boolean;
}

/** One engine's services: its volumes, workspaces and warm pool (its reaper is the composition root's). */
export function buildEngineParts(e: EngineRuntime, deps: EnginePartsDeps): EngineParts & { volumes: BoundedVolumes; workspaces: WorkspaceService } {
  const { config, instance, profiles } = deps;
  const log = deps.many ? deps.log.child({ engine: e.name }) : deps.log;
  const { runtime } = e;
  const volumes = new BoundedVolumes({
    runtime,
    log,
    instance,
    image: config.CAPSULE_SANDBOX_IMAGE,
    root: config.CAPSULE_VOLUME_ROOT,
    required: config.CAPSULE_REQUIRE_DISK_QUOTA,
    ...(deps.many ? { partition: `${instance.name}.${e.name}` } : {}),
  });
  const workspaces = new WorkspaceService({ runtime, log, instance, config, volumes });
  const pool = config.CAPSULE_POOL ? new WarmPool({ runtime, log, instance, profiles }) : undefined;
  return { name: e.name, labels: e.labels, runtime, volumes, workspaces, ...(pool ? { pool } : {}) };
}
