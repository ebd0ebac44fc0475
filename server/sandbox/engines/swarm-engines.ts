import { ENGINE_NAME } from '../../engines-config.js';
import type { SwarmNodeInfo } from '../../runtime/swarm-nodes.js';
import type { Availability } from './engine.js';

/** The node label that makes a Swarm node a Capsule engine: how Capsule reaches its engine. */
export const ENGINE_LABEL = 'capsule.engine';
/** The node label naming that engine (else its hostname; its node id when hostnames collide). */
export const ENGINE_NAME_LABEL = 'capsule.engine.name';

/** A Swarm node that is an engine. */
export interface SwarmEngine {
  name: string;
  endpoint: string;
  nodeId: string;
  /** Every node label (placement matches profiles' engine_labels against them). */
  labels: Record<string, string>;
  ready: boolean;
  availability: Availability;
}

/**
 * The engines among a Swarm's nodes: those labelled capsule.engine=<endpoint>. Name: the
 * capsule.engine.name label, else the hostname; a name two nodes would share (or that is not a valid
 * engine name) becomes the node id, so every engine keeps one stable name.
 */
export function swarmEngines(nodes: readonly SwarmNodeInfo[]): SwarmEngine[] {
  const labelled = nodes.filter((n) => /^(unix:\/\/\/|tcp:\/\/)\S+$/.test(n.labels[ENGINE_LABEL] ?? ''));
  const wanted = (n: SwarmNodeInfo) => (n.labels[ENGINE_NAME_LABEL] ?? n.hostname).toLowerCase();
  const count = new Map<string, number>();
  for (const n of labelled) count.set(wanted(n), (count.get(wanted(n)) ?? 0) + 1);
  return labelled
    .map((n) => {
      const name = wanted(n);
      return {
        name: count.get(name) === 1 && ENGINE_NAME.test(name) ? name : n.id.toLowerCase(),
        endpoint: n.labels[ENGINE_LABEL]!,
        nodeId: n.id,
        labels: n.labels,
        ready: n.state === 'ready',
        availability: n.availability,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
