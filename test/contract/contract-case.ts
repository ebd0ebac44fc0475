import type { ExecutionContext, TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { extract, pack, type Header } from 'tar-stream';
import { LINUX_CAPABILITIES, type LinuxCapability } from '../../server/runtime/capabilities.js';
import type { AttachedIo, ContainerRuntime, ContainerSpec, NetworkSpec, VolumeMount } from '../../server/runtime/container-runtime.js';
import type { ContractOptions, ContractPrograms, OutputPiece } from './container-runtime.contract.js';

// What the contract's clauses share: one case per test (its runtime, labels and clean-up), and helpers.

export const MiB = 1024 * 1024;
export const CASE = 'capsule.contract.case';
export const ROLE = 'capsule.contract.role';

/** The CapEff mask of a set of capabilities, as the kernel prints it. */
export function capabilityMask(caps: readonly LinuxCapability[]): string {
  return caps.reduce((mask, cap) => mask | (1n << BigInt(LINUX_CAPABILITIES.indexOf(cap))), 0n).toString(16).padStart(16, '0');
}

/** Output as pieces: consecutive chunks of one stream joined. */
export async function outputOf(io: AttachedIo): Promise<OutputPiece[]> {
  const pieces: OutputPiece[] = [];
  for await (const chunk of io.output) {
    const last = pieces.at(-1);
    if (last?.stream === chunk.stream) last.text += chunk.data.toString('utf8');
    else pieces.push({ stream: chunk.stream, text: chunk.data.toString('utf8') });
  }
  return pieces;
}

/** A tar of `entries` (header fields plus optional content). */
export function tarOf(entries: Array<Partial<Header> & { name: string; content?: string }>): Readable {
  const archive = pack();
  for (const { content, ...header } of entries) archive.entry(header, content ?? '');
  archive.finalize();
  return PassThrough.from(archive as unknown as AsyncIterable<Buffer>);
}

/** A tar's entries by name, with their content. */
export async function entriesOf(tar: Readable): Promise<Map<string, { header: Header; content: string }>> {
  const found = new Map<string, { header: Header; content: string }>();
  const ex = extract();
  tar.pipe(ex as unknown as NodeJS.WritableStream);
  for await (const entry of ex as unknown as AsyncIterable<Readable & { header: Header }>) {
    const parts: Buffer[] = [];
    for await (const chunk of entry) parts.push(chunk as Buffer);
    found.set(entry.header.name, { header: entry.header, content: Buffer.concat(parts).toString('utf8') });
  }
  return found;
}

export const SAMPLE_TREE = [
  { name: 'sub/', type: 'directory' as const, mode: 0o750, uid: 10001, gid: 10001 },
  { name: 'sub/a.txt', mode: 0o640, uid: 10001, gid: 10002, content: 'alpha' },
  { name: 'sub/link', type: 'symlink' as const, linkname: 'a.txt', mode: 0o777, uid: 10001, gid: 10001 },
];

/** One test's view: the runtime under test, labels only it uses, and helpers that clean up after it. */
export interface ContractCase {
  rt: ContainerRuntime;
  labels: Record<string, string>;
  /** A locked-down spec running `cmd`, with the case's labels. */
  spec(cmd: string[], extra?: Partial<ContainerSpec>): ContainerSpec;
  /** Create a container, removed when the test ends (its id is logged). */
  create(spec: ContainerSpec): Promise<string>;
  volumeName(role: string): string;
  /** Create a volume with the case's labels (and `extra`), removed when the test ends. */
  createVolume(name: string, extra?: Record<string, string>, driverOptions?: Record<string, string>): Promise<void>;
  /** An anonymous volume at /data, labelled so the case can find it. */
  anonymousData: VolumeMount;
  /**
   * A network of the case's own (name, a /24 and a bridge name of its role, created with the case's
   * labels), removed when the test ends; `overrides` replace fields (to provoke conflicts).
   */
  createNetwork(role: string, overrides?: Partial<NetworkSpec>): Promise<NetworkSpec>;
}

/** What a clause file registers its tests with. */
export interface ContractSuite {
  test: TestFn;
  begin(t: ExecutionContext): ContractCase;
  programs: ContractPrograms;
  options: ContractOptions;
}

export function contractCase(t: ExecutionContext, makeRuntime: () => ContainerRuntime, options: ContractOptions): ContractCase {
  const rt = makeRuntime();
  const id = randomBytes(6).toString('hex');
  const labels = { ...options.labels, [CASE]: id };
  return {
    rt,
    labels,
    spec: (cmd, extra = {}) => ({
      image: options.image, cmd, user: '10001:10001', workdir: '/', env: {}, labels, openStdin: false, memoryBytes: 64 * MiB,
      nanoCpus: 5e8, pidsLimit: 32, ulimits: [], tmpfs: {}, volumes: [], network: 'none', readOnlyRootfs: true, capDrop: ['ALL'],
      noNewPrivileges: true, init: true, ...extra,
    }),
    create: async (spec) => {
      const cid = await rt.create(spec);
      t.teardown(() => rt.remove(cid));
      t.log(`container ${cid}`);
      return cid;
    },
    volumeName: (role) => `capsule-contract-${id}-${role}`,
    createVolume: async (name, extra = {}, driverOptions) => {
      await rt.createVolume(name, { ...labels, ...extra }, driverOptions);
      t.teardown(() => rt.removeVolume(name).catch(() => undefined));
    },
    anonymousData: { target: '/data', readOnly: false, labelsIfCreated: labels },
    createNetwork: async (role, overrides = {}) => {
      // 10.214.N.0/24, N from the case id and the role: cases of one run rarely share one, and a clash
      // with another network is a conflict the engine names (the test log shows it).
      const n = (parseInt(id.slice(0, 4), 16) + [...role].reduce((a, c) => a + c.charCodeAt(0), 0)) % 250;
      const spec: NetworkSpec = {
        name: `capsule-contract-${id}-${role}`, labels, internal: true, subnet: `10.214.${n}.0/24`, gateway: `10.214.${n}.1`,
        ipRange: `10.214.${n}.128/25`, bridgeName: `capsule-ct${id.slice(0, 2)}${role.slice(0, 2)}`, ...overrides,
      };
      await rt.createNetwork(spec);
      t.teardown(() => rt.removeNetwork(spec.name).catch(() => undefined));
      return spec;
    },
  };
}
