import { capsuleUri } from '../schemas/uris.js';
import { randomBytes } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import type { Profiler } from 'node:inspector';
import { BusyError, ForbiddenError, InvalidInputError } from '../errors.js';
import type { ArtifactStore } from '../store/artifact-store.js';
import { type FlameNode, flamegraphHtml } from './flamegraph-html.js';
import type { TopFrame } from './top-frames.js';
import type { z } from 'zod';
import type { serverProfileReportObject } from '../schemas/profiling-outputs.js';

/** What stop_server_profiling returns (its schema's type). */
export type SelfProfileReport = z.infer<typeof serverProfileReportObject>;

const round = (x: number) => Math.round(x * 100) / 100;

/** Top functions by self time, and a flame tree, from a V8 .cpuprofile. */
export function analyzeCpuProfile(profile: Profiler.Profile): { top: TopFrame[]; tree: FlameNode; samples: number } {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const total = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0) || 1;
  const self = new Map<string, { f: Profiler.ProfileNode['callFrame']; hits: number }>();
  for (const n of profile.nodes) {
    const key = `${n.callFrame.functionName}|${n.callFrame.url}|${n.callFrame.lineNumber}`;
    const entry = self.get(key) ?? { f: n.callFrame, hits: 0 };
    entry.hits += n.hitCount ?? 0;
    self.set(key, entry);
  }
  const toTree = (id: number): FlameNode => {
    const n = nodes.get(id)!;
    const children = (n.children ?? []).map(toTree);
    const name = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? `${n.callFrame.url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
    return { name, value: (n.hitCount ?? 0) + children.reduce((s, c) => s + c.value, 0), children };
  };
  const top = [...self.values()]
    .filter((e) => e.hits > 0)
    .sort((a, b) => b.hits - a.hits)
    .slice(0, 20)
    .map((e) => ({ function: e.f.functionName || '(anonymous)', file: e.f.url, line: e.f.lineNumber + 1, self_pct: round((100 * e.hits) / total), total_pct: 0 }));
  return { top, tree: toTree(profile.nodes[0]!.id), samples: total };
}

/**
 * A CPU profiler of the Capsule server itself, through node:inspector. One session at a time;
 * results are artifacts (.cpuprofile, flame graph, top functions).
 */
export class SelfProfiler {
  private session: Session | null = null;
  private current: { id: string; owner: string; startedAt: number; label: string } | null = null;

  constructor(private readonly artifacts: ArtifactStore) {}

  status(): { running: boolean; profile_id: string | null; started_at: string | null; label: string | null } {
    const c = this.current;
    return { running: c !== null, profile_id: c?.id ?? null, started_at: c ? new Date(c.startedAt).toISOString() : null, label: c?.label ?? null };
  }

  get running(): boolean {
    return this.current !== null;
  }

  /** Start profiling the server; refused while a session runs. */
  async start(owner: string, label = 'server', intervalUs = 1000): Promise<string> {
    if (this.current) throw new BusyError(`server profiling is already running (${this.current.id}); one session at a time: stop it first`, { details: { retry_after_s: 5 } });
    const id = `srvprof_${randomBytes(6).toString('hex')}`;
    this.current = { id, owner, startedAt: Date.now(), label };
    const session = new Session();
    session.connect();
    try {
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
      await session.post('Profiler.start');
    } catch (err) {
      session.disconnect();
      this.current = null;
      throw err;
    }
    this.session = session;
    return id;
  }

  /** Stop, store the artifacts under the profile id, and report the top functions. */
  async stop(owner: string): Promise<SelfProfileReport> {
    const c = this.current;
    const session = this.session;
    if (!c || !session) throw new InvalidInputError('server profiling is not running: call start_server_profiling first');
    if (c.owner !== owner) throw new ForbiddenError('server profiling was started by another owner; only that owner can stop it');
    let profile: Profiler.Profile;
    try {
      ({ profile } = await session.post('Profiler.stop'));
    } finally {
      session.disconnect();
      this.session = null;
      this.current = null;
    }
    const { top, tree, samples } = analyzeCpuProfile(profile);
    this.artifacts.put(c.id, owner, 'server.cpuprofile', JSON.stringify(profile));
    this.artifacts.put(c.id, owner, 'flamegraph.html', flamegraphHtml(`Capsule server CPU profile (${c.label})`, tree, 'CPU samples'));
    this.artifacts.put(c.id, owner, 'profile.json', JSON.stringify({ tool: 'inspector', label: c.label, samples, top }));
    return {
      profile_id: c.id,
      duration_ms: Date.now() - c.startedAt,
      samples,
      top,
      flamegraph_uri: capsuleUri.runArtifact(c.id, 'flamegraph.html'),
      cpuprofile_uri: capsuleUri.runArtifact(c.id, 'server.cpuprofile'),
    };
  }
}
