/**
 * A real Docker Swarm over private engines on loopback addresses (test/helpers/engines.ts starts them).
 * Measured here (Docker 20.10, engines with --bridge=none --iptables=false --ip-masq=false: none of
 * them blocks swarm init or join): init ~1 s, a join ~0.3 s.
 *
 *   manager  swarm init --advertise-addr A --listen-addr A:2377 --dispatcher-heartbeat 1s
 *   worker   swarm join --advertise-addr W --listen-addr W:2377 --token <worker token> A:2377
 *
 * The 1 s heartbeat (default 5 s) makes a node that left or died `down` on the manager ~2-4 s after,
 * instead of ~12 s. The manager reports a worker's Status.Addr as 127.0.0.1 (where its connection came
 * from), whatever it advertises: an engine's endpoint comes from its label, never from that address.
 *
 * What one host's shared network namespace does not allow, and what is done about it:
 * - Overlay networks cannot span two engines here: each creates its VXLAN device (same VNI, UDP 4789)
 *   in the one host namespace, and the second fails ("error creating vxlan interface: file exists").
 *   So the `ingress` network (the routing mesh, which also needs IPVS, absent here) is removed right
 *   after init, before anyone joins; services use the host network (deploy/swarm/stack.yaml does).
 * - The ingress sandbox needs a `docker_gwbridge` network, whose bridge would be an interface named
 *   docker_gwbridge in the host namespace: two swarms starting at once (two test files) would share it.
 *   So each manager gets its own first (interface capgw-<b>-<c>, subnet 10.199.<c>.0/24 for 127.0.b.c;
 *   nothing is attached to it but the ingress sandbox, and no traffic crosses it), removed with ingress.
 * Nothing reaches an outside address: cluster traffic (2377, gossip on 7946) stays on 127.0.0.x.
 * `docker service create`/`stack deploy` must be told not to resolve images (--no-resolve-image,
 * --resolve-image never): they would otherwise ask a registry for the image's digest.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The docker CLI against `host`; a failure carries the command and its stderr. */
export async function docker(host: string, args: string[], input?: string): Promise<string> {
  if (input === undefined) {
    return exec('docker', ['-H', host, ...args], { maxBuffer: 16 << 20 }).then(
      ({ stdout }) => stdout,
      (err: { stderr?: string; message: string }) => {
        throw new Error(`docker -H ${host} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
      },
    );
  }
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['-H', host, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let errors = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (errors += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`docker -H ${host} ${args.join(' ')}: ${errors.trim()}`))));
    child.stdin.end(input);
  });
}

/** What a swarm member needs: where its engine answers and the loopback address it advertises. */
export interface SwarmMember {
  readonly name: string;
  /** unix:///var/run/docker-<name>.sock */
  readonly host: string;
  readonly address: string;
}

export type Availability = 'active' | 'pause' | 'drain';

export interface SwarmNode {
  id: string;
  hostname: string;
  role: 'manager' | 'worker';
  /** ready, down, unknown, disconnected */
  state: string;
  availability: Availability;
  addr: string;
  labels: Record<string, string>;
}

interface NodeJson {
  ID: string;
  Description: { Hostname: string };
  Spec: { Role: 'manager' | 'worker'; Availability: Availability; Labels?: Record<string, string> };
  Status: { State: string; Addr: string };
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The engine's swarm state (inactive, pending, active, error, locked) and its node id. */
export async function swarmState(host: string): Promise<{ state: string; nodeId: string }> {
  const [state = '', nodeId = ''] = (await docker(host, ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}'])).trim().split(' ');
  return { state, nodeId };
}

/** Leave any swarm (forced: a lone manager may leave) and remove the bridge its ingress sandbox used. */
export async function leaveSwarm(host: string): Promise<void> {
  if ((await swarmState(host)).state !== 'inactive') await docker(host, ['swarm', 'leave', '--force']);
  await removeGwbridge(host);
}

async function removeGwbridge(host: string): Promise<void> {
  const networks = await docker(host, ['network', 'ls', '--format', '{{.Name}}']);
  if (networks.split('\n').includes('docker_gwbridge')) await docker(host, ['network', 'rm', 'docker_gwbridge']);
}

/** The manager's docker_gwbridge, made before init so that its interface name and subnet are its own. */
async function ownGwbridge(member: SwarmMember): Promise<void> {
  const [, , b, c] = member.address.split('.');
  await docker(member.host, ['network', 'create', '--driver', 'bridge', '--subnet', `10.199.${c}.0/24`,
    '--opt', `com.docker.network.bridge.name=capgw-${b}-${c}`, '--opt', 'com.docker.network.bridge.enable_icc=false',
    '--opt', 'com.docker.network.bridge.enable_ip_masquerade=false', 'docker_gwbridge']);
}

export class Swarm {
  private constructor(
    readonly manager: SwarmMember,
    private readonly members: SwarmMember[],
  ) {}

  /** `manager` inits a swarm on its address; each worker joins it. Resolves once every node is Ready. */
  static async create(manager: SwarmMember, workers: SwarmMember[]): Promise<Swarm> {
    const swarm = new Swarm(manager, [manager]);
    try {
      await Promise.all([manager, ...workers].map((m) => leaveSwarm(m.host)));
      await ownGwbridge(manager);
      await docker(manager.host, ['swarm', 'init', '--advertise-addr', manager.address, '--listen-addr', `${manager.address}:2377`, '--dispatcher-heartbeat', '1s']);
      await swarm.dropIngress();
      for (const worker of workers) await swarm.join(worker);
      return swarm;
    } catch (err) {
      await swarm.teardown().catch(() => undefined);
      throw err;
    }
  }

  /** `member` joins as a worker (again, after leave()); resolves once the manager sees it Ready. */
  async join(member: SwarmMember): Promise<SwarmNode> {
    const token = (await docker(this.manager.host, ['swarm', 'join-token', '-q', 'worker'])).trim();
    if (!this.members.includes(member)) this.members.push(member);
    await docker(member.host, ['swarm', 'join', '--advertise-addr', member.address, '--listen-addr', `${member.address}:2377`, '--token', token, `${this.manager.address}:2377`]);
    const { nodeId } = await swarmState(member.host);
    return until(`node ${member.name} Ready`, 20_000, async () => (await this.nodes()).find((n) => n.id === nodeId && n.state === 'ready'));
  }

  /** Every node, as the manager reports it. */
  async nodes(): Promise<SwarmNode[]> {
    const ids = (await docker(this.manager.host, ['node', 'ls', '-q'])).split('\n').filter(Boolean);
    const all = JSON.parse(await docker(this.manager.host, ['node', 'inspect', ...ids])) as NodeJson[];
    return all.map((n) => ({
      id: n.ID,
      hostname: n.Description.Hostname,
      role: n.Spec.Role,
      state: n.Status.State,
      availability: n.Spec.Availability,
      addr: n.Status.Addr,
      labels: n.Spec.Labels ?? {},
    }));
  }

  /** The node id of `member`'s engine. */
  async nodeId(member: SwarmMember): Promise<string> {
    const { state, nodeId } = await swarmState(member.host);
    if (state !== 'active' || !nodeId) throw new Error(`${member.name} is not in the swarm (${state})`);
    return nodeId;
  }

  /** Add (or change) labels on `member`'s node. */
  async label(member: SwarmMember, labels: Record<string, string>): Promise<void> {
    const args = Object.entries(labels).flatMap(([k, v]) => ['--label-add', `${k}=${v}`]);
    await docker(this.manager.host, ['node', 'update', ...args, await this.nodeId(member)]);
  }

  /**
   * Label every member as a Capsule engine: capsule.engine=<how Capsule reaches it>, capsule.engine.name=<name>.
   * `endpoint` maps a member to its endpoint (default: its unix socket).
   */
  async labelEngines(endpoint: (member: SwarmMember) => string = (m) => m.host): Promise<void> {
    for (const member of this.members) await this.label(member, { 'capsule.engine': endpoint(member), 'capsule.engine.name': member.name });
  }

  /** Set `member`'s availability (drain: its tasks move away; pause: none are added). */
  async setAvailability(member: SwarmMember, availability: Availability): Promise<void> {
    await docker(this.manager.host, ['node', 'update', '--availability', availability, await this.nodeId(member)]);
  }

  /** `member` (a worker) leaves; once the manager sees it down, its node is removed. */
  async leave(member: SwarmMember): Promise<void> {
    if (member === this.manager) throw new Error('the manager cannot leave: use teardown()');
    const id = await this.nodeId(member);
    await docker(member.host, ['swarm', 'leave']);
    await until(`node ${member.name} down`, 20_000, async () => ((await this.nodes()).find((n) => n.id === id)?.state === 'down' ? true : undefined));
    await docker(this.manager.host, ['node', 'rm', id]);
    this.members.splice(this.members.indexOf(member), 1);
  }

  /** Every member leaves (workers first) and the swarm is gone; each engine's swarm folder is empty after. */
  async teardown(): Promise<void> {
    const failures: unknown[] = [];
    for (const member of [...this.members].reverse()) await leaveSwarm(member.host).catch((err) => failures.push(err));
    this.members.length = 0;
    if (failures.length) throw new AggregateError(failures, 'leaving the swarm failed');
  }

  /** Remove the routing mesh before anyone joins (why: this file's header). */
  private async dropIngress(): Promise<void> {
    await docker(this.manager.host, ['network', 'rm', 'ingress'], 'y\n');
    await until('ingress removed', 20_000, async () => {
      const names = (await docker(this.manager.host, ['network', 'ls', '--format', '{{.Name}}'])).split('\n');
      return names.includes('ingress') ? undefined : true;
    });
    // The ingress sandbox goes asynchronously; its bridge can be removed once nothing is attached.
    await until('docker_gwbridge removed', 20_000, () => removeGwbridge(this.manager.host).then(() => true, () => undefined));
  }
}
