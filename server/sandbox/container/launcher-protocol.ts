import type { OutputChunk, OutputStream } from '../../runtime/container-runtime.js';
import { readFrames } from '../../runtime/frames.js';

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
  /** The first SIGTERM/SIGINT/SIGHUP/SIGQUIT the launcher received, 0 for none (absent before image 0.4.0). */
  terminated_by?: number;
}

export type LauncherEvent =
  | { kind: 'output'; chunk: OutputChunk }
  | { kind: 'started'; pid: number }
  /** The launcher dropped this many bytes of the stream (past its output cap) right before the next output. */
  | { kind: 'skipped'; stream: OutputStream; bytes: number }
  | { kind: 'stats'; stats: LauncherStats }
  | { kind: 'exit'; exit: LauncherExit };

const FRAME = { stdout: 1, stderr: 2, stats: 3, exit: 4, started: 5, skipped: 6 } as const;

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
      case FRAME.skipped: {
        const skipped = JSON.parse(frame.data.toString('utf8')) as { stream: OutputStream; bytes: number };
        yield { kind: 'skipped', stream: skipped.stream === 'stderr' ? 'stderr' : 'stdout', bytes: skipped.bytes };
        break;
      }
      default:
        break;
    }
  }
  while (diagnostics.length) yield { kind: 'output', chunk: diagnostics.shift()! };
}

/**
 * A job for `capsule-launch --wait-job`: "CAPSULE-JOB <n>\n" and n bytes of NUL-terminated fields:
 * cwd, argc, argv..., envc, "NAME=value"..., output cap (see images/sandbox/capsule-launch.c).
 */
export function encodeJob(job: { cwd: string; argv: string[]; env: Record<string, string>; outputCap: number | null }): Buffer {
  const env = Object.entries(job.env).map(([k, v]) => `${k}=${v}`);
  const fields = [job.cwd, String(job.argv.length), ...job.argv, String(env.length), ...env, String(job.outputCap ?? 0)];
  const body = Buffer.concat(fields.map((f) => Buffer.from(`${f}\0`, 'utf8')));
  return Buffer.concat([Buffer.from(`CAPSULE-JOB ${body.length}\n`), body]);
}

/** The launcher's command line: `--cap N` makes it keep only head and tail of each stream (null = forward all). */
export function launcherCommand(argv: string[], outputCap: number | null): string[] {
  return outputCap ? [LAUNCHER, '--cap', String(outputCap), '--', ...argv] : [LAUNCHER, '--', ...argv];
}
