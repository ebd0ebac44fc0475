import { PassThrough } from 'node:stream';
import type { ContainerSpec, OutputChunk, OutputStream } from '../../server/runtime/container-runtime.js';
import type { FakeFilesystem } from './fake-filesystem.js';
import type { FakeScript, LauncherState } from './fake-launcher.js';
import type { FakeProcess, FakeProgram } from './fake-programs.js';

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
    stdinData: [], stdinEnded: false, stdinWaiters: [], archives: [], attachments: [],
    launcherReports: true, terminatedBy: 0, waitsForJob: fields.spec.cmd.includes('--wait-job'), jobArrived, jobReceived,
  };
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
