import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { InvalidInputError, NotFoundError } from '../../errors.js';
import type { LimitsInput, WorkspaceRunInput } from '../runs/run-request.js';
import type { RunState } from '../../schemas/run-outputs.js';
import type { RunResult } from '../runs/run-result.js';
import type { RunStats } from '../runs/run-stats.js';
import type { LogRead, RetainedLog } from '../runs/retained-log.js';
import type { RunHandle } from '../runs/run-handle.js';
import type { SandboxService } from '../sandbox-service.js';

/** Running, or how it ended (the records' and process tools' state enum). */
export type ProcessState = RunState;

/** Input of start_process: a command, or a language and code. */
export interface ProcessInput extends WorkspaceRunInput {
  command?: string;
  language?: string;
  code?: string;
  args?: string[];
  profile?: string;
  limits?: LimitsInput;
  timeout_ms?: number;
  env?: Record<string, string>;
  stdin?: string;
  stdin_open?: boolean;
}

/** Signals kill_process accepts. SIGTERM and SIGKILL end the process (TERM, grace, KILL); others are forwarded. */
export const PROCESS_SIGNALS = ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

class KilledByOwner extends Error {
  constructor(signal: string) {
    super(`killed by kill_process (${signal})`);
  }
}

/** One background process: its container runs on after the call that started it returns. */
export interface BackgroundProcess {
  processId: string;
  runId: string;
  owner: string;
  display: string;
  profile: string;
  startedAt: Date;
  finishedAt: Date | null;
  state: ProcessState;
  result: RunResult | null;
  log: RetainedLog;
  done: Promise<RunResult>;
  /** The latest accounting the launcher reported (about once a second). */
  stats: RunStats | null;
}

interface Entry extends BackgroundProcess {
  /** The run while it runs; null once it ended. */
  handle: RunHandle | null;
}

export interface ProcessManagerDeps {
  sandbox: SandboxService;
  log: Logger;
  retainBytes: number;
  resultTtlMs: number;
}

/**
 * Background processes: started by one call, read, written, waited on and killed by later ones.
 * A process belongs to its owner, not to the MCP session that started it.
 */
export class ProcessManager {
  private readonly processes = new Map<string, Entry>();

  constructor(private readonly deps: ProcessManagerDeps) {}

  /**
   * Start a process; resolves once its container runs (or rejects with why it could not start).
   * `mode` 'run' gives it run timeouts instead of process ones (REST runs started without waiting).
   */
  async start(input: ProcessInput, owner: string, mode: 'run' | 'process' = 'process'): Promise<BackgroundProcess> {
    const hasCommand = input.command !== undefined;
    const hasCode = input.code !== undefined || input.language !== undefined;
    if (hasCommand === hasCode) throw new InvalidInputError('give either command, or language and code');
    const processId = `proc_${randomBytes(8).toString('hex')}`;
    const options = { owner, mode, processId, stdinOpen: input.stdin_open ?? false, retainBytes: this.deps.retainBytes };
    const common = {
      ...(input.profile !== undefined ? { profile: input.profile } : {}),
      ...(input.limits !== undefined ? { limits: input.limits } : {}),
      ...(input.timeout_ms !== undefined ? { timeout_ms: input.timeout_ms } : {}),
      ...(input.env !== undefined ? { env: input.env } : {}),
      ...(input.workspace_id !== undefined ? { workspace_id: input.workspace_id } : {}),
      ...(input.files !== undefined ? { files: input.files } : {}),
      ...(input.collect !== undefined ? { collect: input.collect } : {}),
      ...(input.stdin !== undefined ? { stdin: input.stdin } : input.stdin_open ? { stdin: '' } : {}),
    };
    // Resolves once the container runs; rejects (nothing left behind) when it could not start.
    const handle = hasCommand
      ? await this.deps.sandbox.startCommand({ command: input.command!, ...common }, options)
      : await this.deps.sandbox.startCode({ language: input.language ?? '', code: input.code ?? '', ...(input.args ? { args: input.args } : {}), ...common }, options);
    const entry: Entry = {
      processId,
      runId: handle.runId,
      owner,
      display: handle.display,
      profile: handle.profile,
      startedAt: new Date(),
      finishedAt: null,
      state: 'running',
      result: null,
      log: handle.log,
      done: handle.wait(),
      handle,
      get stats() {
        return this.handle?.stats ?? this.result?.stats ?? null;
      },
    };
    void entry.done.then(
      (result) => {
        entry.result = result;
        entry.state = result.status;
        entry.finishedAt = new Date();
        // The result and the log are what is kept of an ended process; the run object goes.
        entry.handle = null;
      },
      () => undefined,
    );
    this.processes.set(processId, entry);
    this.deps.log.info({ process_id: processId, run_id: entry.runId, owner }, 'process started');
    return entry;
  }

  /** The owner's processes, newest first. */
  list(owner: string): BackgroundProcess[] {
    return [...this.processes.values()].filter((p) => p.owner === owner).sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
  }

  /** One of the owner's processes, by process id or run id. */
  get(owner: string, id: string): BackgroundProcess {
    return this.entry(owner, id);
  }

  /** Output from `cursor`, plus the state. */
  read(owner: string, id: string, cursor: number | undefined, maxBytes: number): LogRead & { process: BackgroundProcess } {
    const p = this.entry(owner, id);
    return { ...p.log.read(cursor, maxBytes), process: p };
  }

  /** Wait up to `timeoutMs` for the process to end; returns it either way. */
  async wait(owner: string, id: string, timeoutMs: number, signal?: AbortSignal): Promise<BackgroundProcess> {
    const p = this.entry(owner, id);
    if (p.state !== 'running') return p;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      p.done.catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      }),
    ]);
    clearTimeout(timer);
    return p;
  }

  /** Write to the stdin of a process started with stdin_open; `eof` closes it. */
  async writeStdin(owner: string, id: string, data: string, eof: boolean): Promise<void> {
    const p = this.entry(owner, id);
    if (p.state !== 'running' || !p.handle) throw new InvalidInputError(`process ${p.processId} is not running`);
    if (data.length > 0) await p.handle.writeStdin(Buffer.from(data, 'utf8'));
    if (eof) p.handle.closeStdin();
  }

  /** SIGTERM/SIGKILL (default) end the process: SIGTERM, grace, SIGKILL of the container. Other signals are forwarded. */
  async kill(owner: string, id: string, signal: (typeof PROCESS_SIGNALS)[number] = 'SIGKILL'): Promise<BackgroundProcess> {
    const p = this.entry(owner, id);
    if (p.state !== 'running') return p;
    if (signal === 'SIGTERM' || signal === 'SIGKILL') {
      await p.handle?.kill(new KilledByOwner(signal));
      await p.done.catch(() => undefined);
    } else {
      await p.handle?.signal(signal);
    }
    return p;
  }

  /** Forget processes that ended more than the result TTL ago (the run store keeps their records). */
  sweepExpired(): number {
    const cutoff = Date.now() - this.deps.resultTtlMs;
    let removed = 0;
    for (const [id, p] of this.processes) {
      if (p.finishedAt && p.finishedAt.getTime() < cutoff) {
        this.processes.delete(id);
        removed++;
      }
    }
    return removed;
  }

  private entry(owner: string, id: string): Entry {
    const byProcess = this.processes.get(id);
    const p = byProcess ?? [...this.processes.values()].find((e) => e.runId === id);
    // Another owner's process is reported exactly like a missing one.
    if (!p || p.owner !== owner) throw new NotFoundError(`process ${id} not found (it never existed, expired, or belongs to another owner)`);
    return p;
  }
}
