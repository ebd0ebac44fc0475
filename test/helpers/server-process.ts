import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../server/version.js';

/** The built CLI: e2e tests run the real `capsule serve`, as a user would. */
export const CLI = join(projectRoot, 'dist', 'server', 'cli.js');

export interface RunningServer {
  url: URL;
  /** The CAPSULE_INSTANCE the server runs as (its containers carry it as capsule.instance). */
  instance: string;
  base: string;
  child: ChildProcess;
  stderr: () => string;
  /** Send a signal and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Run `capsule serve` expecting it to refuse to start; resolves with its exit code and stderr. */
export function startServerExpectingFailure(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, CAPSULE_PORT: '0', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

/**
 * Start `capsule serve` on a free loopback port and wait for its "listening on" line. `cli` is another
 * build's cli.js (benchmarks compare builds); default this worktree's.
 */
export async function startServer(env: Record<string, string> = {}, cli = CLI): Promise<RunningServer> {
  // A unique instance name per server: the reaper of one test server must not touch another's runs.
  const instance = env['CAPSULE_INSTANCE'] ?? `e2e-${randomBytes(4).toString('hex')}`;
  // Its own data folder (run store, cache, context, artifacts) unless the test shares one on purpose.
  const dataDir = env['CAPSULE_DATA_DIR'] ?? mkdtempSync(join(tmpdir(), 'capsule-e2e-data-'));
  const child = spawn(process.execPath, [cli, 'serve'], {
    // Disk quotas required: a server that would run unbounded refuses to start, so no test passes on the fallback.
    env: { ...process.env, CAPSULE_PORT: '0', CAPSULE_HOST: '127.0.0.1', CAPSULE_LOG_LEVEL: 'warn', CAPSULE_REQUIRE_DISK_QUOTA: '1', ...env, CAPSULE_INSTANCE: instance, CAPSULE_DATA_DIR: dataDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // If this test process ends first (a failure, ava's timeout), the server must not outlive it:
  // SIGTERM makes it remove its runs and warm containers before exiting.
  const stopOnExit = () => child.kill('SIGTERM');
  process.once('exit', stopOnExit);
  child.once('exit', () => process.off('exit', stopOnExit));
  const url = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 20 s:\n${log}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(new URL(m[1]!));
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
  return {
    url,
    instance,
    base: `${url.protocol}//${url.host}`,
    child,
    stderr: () => log,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
