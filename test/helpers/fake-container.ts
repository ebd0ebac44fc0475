import { PassThrough } from 'node:stream';
import type { ContainerSpec, OutputChunk, OutputStream } from '../../server/runtime/container-runtime.js';
import type { FakeFilesystem } from './fake-filesystem.js';
import { launcherOutput, type FakeScript, type LauncherState } from './fake-launcher.js';
import { FAKE_PROGRAMS, type FakeProcess, type FakeProgram } from './fake-programs.js';

/** One container of the fake engine. */
export interface FakeContainer extends LauncherState {
  id: string;
  jobReceived?: () => void;
  markStarted: () => void;
  spec: ContainerSpec;
  running: boolean;
  exitCode: number | null;
  oomKilled: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  finish?: (code: number) => void;
  stdinData: Buffer[];
  stdinEnded: boolean;
  stdinWaiters: Array<() => void>;
  archives: { path: string; bytes: number }[];
  fs: FakeFilesystem;
  /** Every volume it mounts, by name (anonymous ones included): they are in use while it exists. */
  volumeNames: string[];
  /** Its anonymous volumes, removed with it. */
  anonymousVolumes: string[];
  /** A program of fake-programs.ts it runs (by argv[0]) instead of the scripted launcher. */
  program?: FakeProgram;
  /** Output channels of its attaches (programs only). */
  attachments: PassThrough[];
  /** A volume helper's answer (its stdout is raw, not launcher frames). */
  helper?: { stdout: string; code: number };
  /** The verdict of spec.healthcheck (null without one). */
  health: 'starting' | 'healthy' | 'unhealthy' | null;
}

export function newContainer(fields: Pick<FakeContainer, 'id' | 'spec' | 'script' | 'fs' | 'volumeNames' | 'anonymousVolumes' | 'program' | 'helper'>): FakeContainer {
  let finish!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (finish = resolve));
  let jobReceived!: () => void;
  const jobArrived = new Promise<void>((resolve) => (jobReceived = resolve));
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  return {
    ...fields,
    running: false, exitCode: null, oomKilled: false, startedAt: null, finishedAt: null, finish, exited, started, markStarted,
    stdinData: [], stdinEnded: false, stdinWaiters: [], archives: [], attachments: [], health: null,
    launcherReports: true, terminatedBy: 0, waitsForJob: fields.spec.cmd.includes('--wait-job'), jobArrived, jobReceived,
  };
}

/**
 * Run spec.healthcheck every interval while the container runs: a fake program of that argv gives the
 * verdict by its exit code (any other argv passes), `retries` failures in a row make it unhealthy.
 */
export function startHealthcheck(c: FakeContainer): void {
  const check = c.spec.healthcheck;
  if (!check) return;
  c.health = 'starting';
  let failures = 0;
  const timer = setInterval(() => {
    if (!c.running) return clearInterval(timer);
    const program = FAKE_PROGRAMS[check.argv[0] ?? ''];
    void (program ? program({ ...processOf(c), argv: check.argv, write: () => undefined }) : Promise.resolve(0)).then((code) => {
      failures = code === 0 ? 0 : failures + 1;
      if (code === 0) c.health = 'healthy';
      else if (failures >= check.retries) c.health = 'unhealthy';
    });
    // At most 100 ms apart: timing is not part of the contract, and unit tests should not wait for it.
  }, Math.min(check.intervalMs, 100));
  timer.unref();
  void c.exited.then(() => clearInterval(timer));
}

/** Record what the attach's stdin carries, for the launcher (a job) or a program (its stdin). */
export function recordStdin(c: FakeContainer, stdin: PassThrough): void {
  const wake = () => c.stdinWaiters.splice(0).forEach((w) => w());
  stdin.on('data', (d: Buffer) => {
    c.stdinData.push(d);
    if (c.running) c.jobReceived?.(); // a dead launcher reads no job
    wake();
  });
  stdin.on('end', () => {
    c.stdinEnded = true;
    wake();
  });
}

/** The view a program has of its container. */
export function processOf(c: FakeContainer): FakeProcess {
  return {
    argv: c.spec.cmd,
    spec: c.spec,
    write(stream: OutputStream, data: string | Buffer) {
      if (!c.running) return;
      const chunk: OutputChunk = { stream, data: Buffer.from(data) };
      for (const channel of c.attachments) channel.write(chunk);
    },
    async *stdin() {
      for (let i = 0; ; ) {
        while (i < c.stdinData.length) yield c.stdinData[i++]!;
        if (c.stdinEnded || !c.spec.openStdin) return;
        await new Promise<void>((resolve) => c.stdinWaiters.push(resolve));
      }
    },
    oomKill() {
      c.oomKilled = true;
      return 137;
    },
  };
}

/** The output of an attach until `signal` fires (the caller's signal ends an attach stream). */
export async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const aborted = new Promise<'aborted'>((resolve) => (signal?.aborted ? resolve('aborted') : signal?.addEventListener('abort', () => resolve('aborted'), { once: true })));
  try {
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next === 'aborted' || next.done) return;
      yield next.value;
    }
  } finally {
    void it.return?.();
  }
}

/** What an attach reads: a volume helper's raw answer, a program's writes, or the scripted launcher's frames. */
export function containerOutput(c: FakeContainer): AsyncIterable<OutputChunk> {
  if (c.helper) {
    const { stdout } = c.helper;
    return (async function* raw(): AsyncGenerator<OutputChunk> {
      if (stdout) yield { stream: 'stdout', data: Buffer.from(stdout) };
      await c.exited;
    })();
  }
  if (!c.program) return launcherOutput(c);
  const channel = new PassThrough({ objectMode: true });
  if (c.exitCode !== null) channel.end();
  else c.attachments.push(channel);
  return channel;
}
