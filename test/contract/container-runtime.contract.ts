import type { TestFn } from 'ava';
import type { ContainerRuntime, OutputStream } from '../../server/runtime/container-runtime.js';
import { containersClauses } from './clauses/containers.js';
import { removalClauses } from './clauses/removal.js';
import { ioClauses } from './clauses/io.js';
import { filesClauses } from './clauses/files.js';
import { hardeningClauses } from './clauses/hardening.js';
import { volumesClauses } from './clauses/volumes.js';
import { cancellationClauses } from './clauses/cancellation.js';
import { networksClauses } from './clauses/networks.js';
import { engineFailuresClauses } from './clauses/engine-failures.js';
import { contractCase, type ContractSuite } from './contract-case.js';

// What every ContainerRuntime must do, whatever engine is behind it. Each test title is a clause of the
// contract. Run against the fake (test/unit) and the Docker engine (test/integration); a Kubernetes or
// multi-engine backend is held to the same file.

export interface OutputPiece {
  stream: OutputStream;
  text: string;
}

/** The argv of a few canonical programs, as the runtime under test can run them. */
export interface ContractPrograms {
  /** Writes each piece to its stream in order, pausing ~0.1 s between pieces, then exits 0. */
  write(pieces: OutputPiece[]): string[];
  /** Copies stdin to stdout until EOF, then exits 0. */
  cat(): string[];
  /** Exits with `code` at once, writing nothing. */
  exit(code: number): string[];
  /** Touches `bytes` of memory, then exits 0. */
  allocate(bytes: number): string[];
  /** Runs until killed, writing nothing. */
  sleep(): string[];
  /**
   * Prints `key=value` lines about its own process: uid, gid, no_new_privs (0|1), cap_eff (CapEff of
   * /proc/self/status), root (ro|rw: the root mount), tmpfs (the /proc/mounts options of `tmpfsPath`),
   * dns_options (the `options` line of /etc/resolv.conf, absent without one).
   */
  report(tmpfsPath: string): string[];
}

export interface ContractOptions {
  /** An image the engine has, that runs `programs`. */
  image: string;
  /** An image reference the engine does not have. */
  missingImage: string;
  /** Labels on everything the suite creates; what carries them is removed when the suite ends. */
  labels: Record<string, string>;
  programs: ContractPrograms;
  /** A runtime whose engine is not there at all. */
  unreachableRuntime(): ContainerRuntime;
  /** A runtime whose engine takes requests and never answers, with every request timeout `timeoutMs`. */
  silentRuntime(timeoutMs: number): Promise<{ runtime: ContainerRuntime; close(): Promise<void> }>;
}

/**
 * Register the contract's tests (in test/contract/clauses/): `makeRuntime` gives the runtime under test,
 * a fresh one per test or a shared one. What the suite created is removed when it ends.
 */
export function containerRuntimeContract(test: TestFn, makeRuntime: () => ContainerRuntime, options: ContractOptions): void {
  const suite: ContractSuite = { test, programs: options.programs, options, begin: (t) => contractCase(t, makeRuntime, options) };
  test.after.always('the suite removes what it created', async () => {
    const rt = makeRuntime();
    for (const c of await rt.list(options.labels)) await rt.remove(c.id);
    for (const v of await rt.listVolumes(options.labels)) await rt.removeVolume(v.name).catch(() => undefined);
    for (const n of await rt.listNetworks(options.labels)) await rt.removeNetwork(n.name).catch(() => undefined);
  });
  containersClauses(suite);
  removalClauses(suite);
  ioClauses(suite);
  filesClauses(suite);
  hardeningClauses(suite);
  volumesClauses(suite);
  networksClauses(suite);
  cancellationClauses(suite);
  engineFailuresClauses(suite);
}
