import { createHash } from 'node:crypto';
import { ImageMissingError, InvalidInputError } from '../../errors.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import { ResultCache } from '../../store/result-cache.js';
import type { PreparedRun } from './run-request.js';
import type { RunResult } from './run-result.js';

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Run `job` through the result cache (`cache: true`): replayed with `cached: true` when the same owner
 * ran exactly these inputs on the same image id; otherwise executed and stored. Never for processes,
 * workspaces or networked profiles: their results depend on more than the inputs.
 */
export async function runThroughCache(
  job: PreparedRun,
  cache: ResultCache,
  runtime: ContainerRuntime,
  execute: (job: PreparedRun) => Promise<RunResult>,
): Promise<RunResult> {
  if (job.mode === 'process') throw new InvalidInputError('cache is not available for background processes');
  if (job.workspace) throw new InvalidInputError('cache cannot be combined with workspace_id: a workspace changes between runs');
  if (job.profile.network !== 'none') throw new InvalidInputError(`cache is not available for networked profile "${job.profile.name}": its results depend on the network`);
  const image = await runtime.inspectImage(job.profile.image);
  if (!image) throw new ImageMissingError(`image ${job.profile.image} is not present on the engine: run \`make images\``);
  const key = ResultCache.key({
    owner: job.owner,
    imageId: image.id,
    profile: job.profile.name,
    inputs: {
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
  if (hit) return { ...hit, cached: true };
  const result = await execute(job);
  cache.put(key, job.owner, result);
  return { ...result, cached: false };
}
