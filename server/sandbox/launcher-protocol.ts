import type { OutputChunk } from '../runtime/container-runtime.js';
import { readFrames } from '../runtime/docker-stream-demux.js';

/** Where the launcher lives in the sandbox image (images/sandbox/capsule-launch.c). */
export const LAUNCHER = '/opt/capsule/capsule-launch';

/** The launcher's accounting, read from the container's own cgroup. */
export interface LauncherStats {
  final: boolean;
  elapsed_ms: number;
  cpu_ns: number;
  memory_bytes: number;
  memory_peak_bytes: number;
  pids: number;
  pids_peak: number;
  blkio_read_bytes: number;
  blkio_write_bytes: number;
  oom_kills: number;
  /** [t_ms, cpu_ns (cumulative), memory_bytes] */
  samples: Array<[number, number, number]>;
}

export interface LauncherExit {
  exit_code: number;
  signal: number;
  oom_kills: number;
  elapsed_ms: number;
}

export type LauncherEvent =
  | { kind: 'output'; chunk: OutputChunk }
  | { kind: 'started'; pid: number }
  | { kind: 'stats'; stats: LauncherStats }
  | { kind: 'exit'; exit: LauncherExit };

const FRAME = { stdout: 1, stderr: 2, stats: 3, exit: 4, started: 5 } as const;

/**
 * The container's output as launcher events. The container's stdout carries the launcher's frames;
 * its stderr carries only the launcher's own diagnostics, passed on as program stderr.
 */
export async function* launcherEvents(output: AsyncIterable<OutputChunk>): AsyncGenerator<LauncherEvent> {
  const diagnostics: OutputChunk[] = [];
  const stdoutBytes = (async function* () {
    for await (const chunk of output) {
      if (chunk.stream === 'stdout') yield chunk.data;
      else diagnostics.push(chunk);
    }
  })();
  for await (const frame of readFrames(stdoutBytes)) {
    while (diagnostics.length) yield { kind: 'output', chunk: diagnostics.shift()! };
    switch (frame.type) {
      case FRAME.stdout:
        yield { kind: 'output', chunk: { stream: 'stdout', data: frame.data } };
        break;
      case FRAME.stderr:
        yield { kind: 'output', chunk: { stream: 'stderr', data: frame.data } };
        break;
      case FRAME.stats:
        yield { kind: 'stats', stats: JSON.parse(frame.data.toString('utf8')) as LauncherStats };
        break;
      case FRAME.exit:
        yield { kind: 'exit', exit: JSON.parse(frame.data.toString('utf8')) as LauncherExit };
        break;
      case FRAME.started:
        yield { kind: 'started', pid: (JSON.parse(frame.data.toString('utf8')) as { pid: number }).pid };
        break;
      default:
        break;
    }
  }
  while (diagnostics.length) yield { kind: 'output', chunk: diagnostics.shift()! };
}

/**
 * A job for `capsule-launch --wait-job`: "CAPSULE-JOB <n>\n" and n bytes of NUL-terminated fields:
 * cwd, argc, argv..., envc, "NAME=value"... (see images/sandbox/capsule-launch.c).
 */
export function encodeJob(job: { cwd: string; argv: string[]; env: Record<string, string> }): Buffer {
  const env = Object.entries(job.env).map(([k, v]) => `${k}=${v}`);
  const fields = [job.cwd, String(job.argv.length), ...job.argv, String(env.length), ...env];
  const body = Buffer.concat(fields.map((f) => Buffer.from(`${f}\0`, 'utf8')));
  return Buffer.concat([Buffer.from(`CAPSULE-JOB ${body.length}\n`), body]);
}
