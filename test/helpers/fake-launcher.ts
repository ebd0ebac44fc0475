import type { OutputChunk } from '../../server/runtime/container-runtime.js';

/** How a fake container running capsule-launch behaves once started. */
export interface FakeScript {
  output?: OutputChunk[];
  /** Delay before the process "exits" by itself (ms); Infinity = never (only a kill ends it). */
  runMs?: number;
  exitCode?: number;
  oomKilled?: boolean;
  /** Make a step throw. */
  failAt?: 'create' | 'putArchive' | 'attach' | 'start' | 'wait' | 'output';
  /** A signal the process ignores (SIGTERM-ignoring programs). */
  ignores?: string[];
}

/** What the launcher's output depends on. */
export interface LauncherState {
  script: FakeScript;
  /** A warm container (--wait-job): its program starts when the job arrives on stdin. */
  waitsForJob: boolean;
  jobArrived: Promise<void>;
  started: Promise<void>;
  exited: Promise<number>;
  /** False when the launcher was killed with the container (SIGKILL): no exit frame then. */
  launcherReports: boolean;
  /** The first termination signal the launcher got (its exit frame's terminated_by). */
  terminatedBy: number;
}

function launcherFrame(type: number, data: Buffer | string): OutputChunk {
  const payload = Buffer.from(data);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return { stream: 'stdout', data: Buffer.concat([header, payload]) };
}

/** The container's stdout as capsule-launch writes it (images/sandbox/capsule-launch.c): frames, from its start on. */
export async function* launcherOutput(c: LauncherState): AsyncGenerator<OutputChunk> {
  // Nothing comes out of a container before its start; one removed unstarted writes nothing.
  if ((await Promise.race([c.started.then(() => true), c.exited.then(() => false)])) === false) return;
  // A warm launcher that dies before its job (engine shutdown, removal) writes no frame at all.
  if (c.waitsForJob && (await Promise.race([c.jobArrived.then(() => true), c.exited.then(() => false)])) === false) return;
  yield launcherFrame(5, '{"pid":2}');
  for (const chunk of c.script.output ?? []) {
    await new Promise((r) => setImmediate(r));
    yield launcherFrame(chunk.stream === 'stdout' ? 1 : 2, chunk.data);
  }
  if (c.script.failAt === 'output') throw new Error('fake connection reset');
  const code = await c.exited;
  if (c.launcherReports) {
    const oom = c.script.oomKilled ? 1 : 0;
    yield launcherFrame(3, JSON.stringify({ final: true, elapsed_ms: 5, cpu_ns: 2e6, memory_bytes: 1024, memory_peak_bytes: 4096, pids: 1, pids_peak: 3, blkio_read_bytes: 0, blkio_write_bytes: 0, oom_kills: oom, samples: [[0, 0, 1024], [100, 2e6, 4096]] }));
    yield launcherFrame(4, JSON.stringify({ exit_code: code, signal: code > 128 ? code - 128 : 0, oom_kills: oom, elapsed_ms: 5, terminated_by: c.terminatedBy }));
  }
}
