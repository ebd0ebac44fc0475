import type { CallOptions } from '../container-runtime.js';
import type { SwarmNodeInfo, SwarmNodeSource } from '../swarm-nodes.js';
import { DockerClient, type DockerRuntimeOptions } from './docker-client.js';

interface NodeJson {
  ID: string;
  Description?: { Hostname?: string };
  Spec?: { Availability?: SwarmNodeInfo['availability']; Labels?: Record<string, string> };
  Status?: { State?: string };
}

/** A Swarm manager's nodes over the Docker API (GET /nodes), under the same request signal and error translation as every engine call. */
export class DockerSwarmNodes implements SwarmNodeSource {
  readonly endpoint: string;
  private readonly client: DockerClient;

  constructor(options: DockerRuntimeOptions = {}) {
    this.client = new DockerClient(options);
    this.endpoint = this.client.endpoint;
  }

  async listNodes(options?: CallOptions): Promise<SwarmNodeInfo[]> {
    // A query like `list`: its request timeout applies.
    const nodes = (await this.client.call('list', options, (abortSignal) => this.client.docker.listNodes({ abortSignal } as object))) as NodeJson[];
    return nodes.map((n) => ({
      id: n.ID,
      hostname: n.Description?.Hostname ?? n.ID,
      state: n.Status?.State ?? 'unknown',
      availability: n.Spec?.Availability ?? 'active',
      labels: n.Spec?.Labels ?? {},
    }));
  }
}
