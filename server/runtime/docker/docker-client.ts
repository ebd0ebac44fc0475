import Docker from 'dockerode';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '../../errors.js';
import type { Readable } from 'node:stream';
import type { CallOptions, RuntimeCall } from '../container-runtime.js';
import { RequestSignal } from '../request-signal.js';
import { translate, type DockerodeError } from './docker-errors.js';

/** Milliseconds each call may wait for the engine's answer; null: no request timeout. */
export type RequestTimeouts = Record<RuntimeCall, number | null>;

const QUERY_MS = 15_000;
const CHANGE_MS = 30_000;
const BULK_MS = 120_000;

/**
 * The request timeouts of DockerRuntime, per call. They bound how long a hung engine can hold a
 * caller, never how long a program runs (that is the run's wall timeout, a signal of its own). Measured
 * on this engine (20.10, 2 shared cores; `npx tsx bench/runtime-calls.ts`, n=20): queries p50 1-10 ms,
 * p99 under 35 ms; create 9 ms; start 75 ms; kill 36 ms; remove 7 ms; a 4 KiB putArchive 44 ms.
 * - Queries (info, images, networks, inspect, list, listVolumes, listNetworks, statPath) and the attach handshake:
 *   15 s, over 1000x their usual answer; a readiness probe on a hung engine answers within it.
 * - Changes (start, kill, remove, createVolume, removeVolume, createNetwork, removeNetwork, connectNetwork): 30 s. dockerd's SIGKILL path waits up to
 *   10 s for the process to die before answering kill or a forced remove, and a remove also deletes
 *   the anonymous volumes' files.
 * - Bulk (create, putArchive, getArchive until its stream opens): 120 s. create may create named volumes;
 *   putArchive's answer comes after the whole upload is extracted (workspace uploads are spooled, up to
 *   the workspace quota).
 * - wait and the attach stream: none. They last as long as the container, which the run's own timeout
 *   bounds; the caller's signal still ends them.
 */
export const DEFAULT_REQUEST_TIMEOUTS_MS: RequestTimeouts = {
  info: QUERY_MS,
  inspectImage: QUERY_MS,
  networkExists: QUERY_MS,
  listImages: QUERY_MS,
  inspect: QUERY_MS,
  list: QUERY_MS,
  listVolumes: QUERY_MS,
  listNetworks: QUERY_MS,
  statPath: QUERY_MS,
  attach: QUERY_MS,
  start: CHANGE_MS,
  kill: CHANGE_MS,
  remove: CHANGE_MS,
  createVolume: CHANGE_MS,
  removeVolume: CHANGE_MS,
  createNetwork: CHANGE_MS,
  removeNetwork: CHANGE_MS,
  connectNetwork: CHANGE_MS,
  create: BULK_MS,
  putArchive: BULK_MS,
  getArchive: BULK_MS,
  wait: null,
};

export interface DockerRuntimeOptions {
  /** unix:///path or tcp://host:port; overrides DOCKER_HOST. By default docker-modem reads DOCKER_HOST and its TLS variables. */
  dockerHost?: string;
  /** The engine's name among several (CAPSULE_ENGINES): errors name it. */
  name?: string;
  /** TLS files (ca.pem, cert.pem, key.pem) for a tcp:// dockerHost; default DOCKER_CERT_PATH/<name>/, DOCKER_CERT_PATH, ~/.docker. */
  certPath?: string;
  /** Request timeouts replacing the defaults, per call (ms; null: none). */
  requestTimeoutsMs?: Partial<RequestTimeouts>;
}

/** The TLS files of a folder (Docker's names); a missing file is an error naming it. */
function tlsFiles(dir: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f));
    } catch (err) {
      throw new ConfigurationError(`TLS file ${join(dir, f)} cannot be read: ${(err as Error).message}`);
    }
  };
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}

/**
 * docker-modem options for an explicit host. A tcp:// endpoint always means TLS, verified against its
 * ca.pem (whoever reaches an engine's API is root on its host): the files of `certPath`, else
 * DOCKER_CERT_PATH/<name>/ when that folder exists, else DOCKER_CERT_PATH, else ~/.docker (the docker
 * CLI's conventions). Only an explicit http:// is plain.
 */
export function modemOptions(host: string, certPath?: string, env: NodeJS.ProcessEnv = process.env, name?: string): Docker.DockerOptions {
  const url = new URL(host);
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  if (url.protocol === 'http:') return { protocol: 'http', host: url.hostname, port: Number(url.port || 2375) };
  if (url.protocol === 'tcp:' || url.protocol === 'https:') {
    const shared = env['DOCKER_CERT_PATH'] || join(homedir(), '.docker');
    const own = name !== undefined && existsSync(join(shared, name)) ? join(shared, name) : null;
    return { protocol: 'https', host: url.hostname, port: Number(url.port || 2376), ...tlsFiles(certPath ?? own ?? shared) };
  }
  throw new ConfigurationError(`unsupported Docker host ${host}: use unix:///path or tcp://host:port`);
}

/**
 * dockerode plus the one way every call reaches the engine: under a request signal (the caller's
 * signal and the call's request timeout), with failures turned into Capsule's typed errors.
 */
export class DockerClient {
  readonly docker: Docker;
  readonly endpoint: string;
  /** How errors name this engine: its endpoint, and its name among several. */
  readonly where: string;
  /** Its name among several engines, else null. */
  readonly name: string | null;
  private readonly timeouts: RequestTimeouts;

  constructor(options: DockerRuntimeOptions = {}) {
    const host = options.dockerHost ?? process.env.DOCKER_HOST;
    this.endpoint = host && host.length > 0 ? host : 'unix:///var/run/docker.sock';
    this.docker = options.dockerHost ? new Docker(modemOptions(options.dockerHost, options.certPath, process.env, options.name)) : new Docker();
    this.name = options.name ?? null;
    this.where = options.name ? `${this.endpoint} (engine "${options.name}")` : this.endpoint;
    this.timeouts = { ...DEFAULT_REQUEST_TIMEOUTS_MS, ...options.requestTimeoutsMs };
  }

  /** Run one engine request; `fn` passes the signal on as dockerode's abortSignal so an abort drops the HTTP request. */
  async call<T>(call: RuntimeCall, options: CallOptions | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    using request = this.request(call, options);
    try {
      return await request.run(fn);
    } catch (raw) {
      throw this.failure(request, raw);
    }
  }

  /**
   * Open a stream (attach, getArchive): the request timeout covers only the opening; the caller's
   * signal also ends the stream later.
   */
  async openStream<T extends Readable>(call: RuntimeCall, options: CallOptions | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const request = this.request(call, options);
    let stream: T;
    try {
      // A stream that opens after the signal fired has no reader: close it rather than leak the connection.
      stream = await request.run((signal) => fn(signal).then((s) => (signal.aborted ? s.destroy() : s)));
    } catch (raw) {
      request[Symbol.dispose]();
      throw this.failure(request, raw);
    }
    request.clearDeadline();
    const onAbort = () => stream.destroy(request.signal.reason as Error);
    request.signal.addEventListener('abort', onAbort, { once: true });
    stream.once('close', () => {
      request.signal.removeEventListener('abort', onAbort);
      request[Symbol.dispose]();
    });
    return stream;
  }

  private request(call: RuntimeCall, options: CallOptions | undefined): RequestSignal {
    return new RequestSignal(call, options?.signal, this.timeouts[call], `Docker engine at ${this.where}`);
  }

  /** The abort reason once the signal fired (dockerode's own AbortError says less), else the translated error. */
  private failure(request: RequestSignal, raw: unknown): unknown {
    return request.signal.aborted ? request.signal.reason : translate(raw as DockerodeError, this.where);
  }
}
