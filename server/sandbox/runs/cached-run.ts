import { createHash } from 'node:crypto';
import { ImageMissingError, InvalidInputError } from '../../errors.js';
import type { ContainerRuntime, OutputChunk } from '../../runtime/container-runtime.js';
import { ResultCache } from '../../store/result-cache.js';
import { RetainedLog } from './retained-log.js';
import type { RunHandle } from './run-handle.js';
import type { PreparedRun } from './run-request.js';
import type { RunResult } from './run-result.js';

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Start `job` through the result cache (`cache: true`): a replay with `cached: true` when the same
 * owner ran exactly these inputs on the same image id; otherwise the live run, stored when it ends
 * cleanly. Never for processes, workspaces or networked profiles: their results depend on more than the inputs.
 */
export async function startThroughCache(job: PreparedRun, cache: ResultCache, runtime: ContainerRuntime, start: (job: PreparedRun) => Promise<RunHandle>): Promise<RunHandle> {
  if (job.mode === 'process') throw new InvalidInputError('cache is not available for background processes');
  if (job.workspace) throw new InvalidInputError('cache cannot be combined with workspace_id: a workspace changes between runs');
  if (job.profile.network !== 'none' || job.profile.egress) throw new InvalidInputError(`cache is not available for networked profile "${job.profile.name}": its results depend on the network`);
  const image = await runtime.inspectImage(job.profile.image);
  if (!image) throw new ImageMissingError(`image ${job.profile.image} is not present on the engine: run \`make images\``);
  const key = ResultCache.key({
    owner: job.owner,
    imageId: image.id,
    profile: job.profile.name,
    inputs: {
      runtime: job.runtime,
      argv: job.argv,
      env: job.env,
      workdir: job.workdir,
      stdin: job.stdin ? digest(job.stdin) : null,
      limits: job.limits,
      timeoutMs: job.timeoutMs,
      jobFiles: job.jobFiles.map((f) => [f.name, f.mode, digest(f.content)]),
      files: job.workspaceFiles.map((f) => [f.relative, f.mode, digest(f.content)]),
      collect: job.collect,
    },
  });
  const hit = cache.get(key, job.owner);
  if (hit) return new ReplayedRun({ ...hit, cached: true }, job.owner);
  return new StoringRun(await start(job), (result) => {
    cache.put(key, job.owner, result);
    return { ...result, cached: false };
  });
}

/** A live run whose result is stored in the cache (and marked `cached: false`) when it ends. */
class StoringRun implements RunHandle {
  private readonly stored: Promise<RunResult>;

  constructor(
    private readonly live: RunHandle,
    store: (result: RunResult) => RunResult,
  ) {
    this.stored = live.wait().then(store);
  }

  get runId() {
    return this.live.runId;
  }
  get profile() {
    return this.live.profile;
  }
  get owner() {
    return this.live.owner;
  }
  get display() {
    return this.live.display;
  }
  get output() {
    return this.live.output;
  }
  get log() {
    return this.live.log;
  }
  get stats() {
    return this.live.stats;
  }
  wait(): Promise<RunResult> {
    return this.stored;
  }
  async kill(why: Error): Promise<RunResult> {
    await this.live.kill(why);
    return this.stored;
  }
  outputs() {
    return this.live.outputs();
  }
  writeStdin(data: Buffer) {
    return this.live.writeStdin(data);
  }
  closeStdin() {
    this.live.closeStdin();
  }
  signal(name: string) {
    return this.live.signal(name);
  }
  [Symbol.asyncDispose]() {
    return this.live[Symbol.asyncDispose]();
  }
}

/** A result from the cache as a run that has already ended: its output replays the kept stdout and stderr. */
class ReplayedRun implements RunHandle {
  readonly log: RetainedLog;
  readonly stats: RunHandle['stats'];

  constructor(
    private readonly result: RunResult,
    owner: string,
  ) {
    this.runId = result.run_id;
    this.owner = owner;
    this.stats = result.stats;
    this.log = new RetainedLog(Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr) + 1);
    const chunks: OutputChunk[] = [
      { stream: 'stdout', data: Buffer.from(result.stdout) },
      { stream: 'stderr', data: Buffer.from(result.stderr) },
    ];
    for (const c of chunks) if (c.data.length) this.log.append(c);
    this.log.close();
  }

  readonly runId: string;
  readonly display = 'replayed from the result cache';
  readonly owner: string;

  get profile(): string {
    return this.result.profile;
  }

  get output(): AsyncIterable<OutputChunk> {
    return this.log.iterate(0);
  }

  wait(): Promise<RunResult> {
    return Promise.resolve(this.result);
  }

  kill(): Promise<RunResult> {
    return this.wait();
  }

  outputs(): ReadonlyMap<string, Buffer> {
    return new Map();
  }

  writeStdin(): Promise<void> {
    return Promise.reject(new InvalidInputError('a replayed run takes no stdin'));
  }

  closeStdin(): void {}

  async signal(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {}
}
