import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerSpec, LinuxCapability, OutputStream, TmpfsMount } from '../../server/runtime/container-runtime.js';
import type { ContractPrograms, OutputPiece } from '../contract/container-runtime.contract.js';
import { capabilityMask } from '../contract/contract-case.js';

/** What a program running in a fake container can do. */
export interface FakeProcess {
  readonly argv: string[];
  readonly spec: ContainerSpec;
  /** Output to the attached streams (dropped when nothing is attached, as the engine keeps no log). */
  write(stream: OutputStream, data: string | Buffer): void;
  /** Stdin as the attach writes it; ends at EOF, at once for a container without openStdin. */
  stdin(): AsyncIterable<Buffer>;
  /** Be killed by the kernel for going past memoryBytes: returns the exit code. */
  oomKill(): number;
}

/** A program the fake engine can run: resolves with its exit code (a kill ends it from outside). */
export type FakeProgram = (p: FakeProcess) => Promise<number>;

/** The engine's default capability set (Docker's), before capDrop and capAdd. */
const DEFAULT_CAPABILITIES: LinuxCapability[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

/** The effective capabilities of the program: a non-root user has none (no ambient capabilities). */
function effectiveCapabilities(spec: ContainerSpec, uid: number): LinuxCapability[] {
  if (uid !== 0) return [];
  const kept = spec.capDrop.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !spec.capDrop.includes(c));
  return [...new Set([...kept, ...(spec.capAdd ?? [])])];
}

/** A tmpfs's options as /proc/mounts prints them (size in KiB; mode, uid, gid only when not the default). */
function procMountOptions(m: TmpfsMount): string {
  const extra = [m.mode !== 0o1777 ? `mode=${m.mode.toString(8)}` : '', m.uid ? `uid=${m.uid}` : '', m.gid ? `gid=${m.gid}` : ''].filter(Boolean);
  return ['rw', 'nosuid', 'nodev', 'noexec', 'relatime', `size=${Math.ceil(m.sizeBytes / 1024)}k`, ...extra].join(',');
}

function report(spec: ContainerSpec, tmpfsPath: string): string {
  const [uid = '0', gid = uid] = spec.user.split(':');
  const tmpfs = spec.tmpfs[tmpfsPath];
  return [
    `uid=${uid}`,
    `gid=${gid}`,
    `no_new_privs=${spec.noNewPrivileges ? 1 : 0}`,
    `cap_eff=${capabilityMask(effectiveCapabilities(spec, Number(uid)))}`,
    `root=${spec.readOnlyRootfs ? 'ro' : 'rw'}`,
    ...(tmpfs ? [`tmpfs=${procMountOptions(tmpfs)}`] : []),
    ...(spec.dnsOptions?.length ? [`dns_options=${spec.dnsOptions.join(' ')}`] : []),
    '',
  ].join('\n');
}

/** The fake engine's programs, by argv[0]. */
export const FAKE_PROGRAMS: Record<string, FakeProgram> = {
  '/fake/write': async (p) => {
    const pieces = JSON.parse(p.argv[1] ?? '[]') as OutputPiece[];
    for (const [i, piece] of pieces.entries()) {
      if (i > 0) await sleep(5);
      p.write(piece.stream, piece.text);
    }
    return 0;
  },
  '/fake/cat': async (p) => {
    for await (const data of p.stdin()) p.write('stdout', data);
    return 0;
  },
  '/fake/exit': async (p) => Number(p.argv[1]),
  '/fake/allocate': async (p) => (Number(p.argv[1]) > p.spec.memoryBytes ? p.oomKill() : 0),
  '/fake/sleep': () => new Promise<number>(() => undefined),
  '/fake/report': async (p) => {
    p.write('stdout', report(p.spec, p.argv[1] ?? ''));
    return 0;
  },
};

/** The contract's canonical programs as fake argv. */
export const fakePrograms: ContractPrograms = {
  write: (pieces) => ['/fake/write', JSON.stringify(pieces)],
  cat: () => ['/fake/cat'],
  exit: (code) => ['/fake/exit', String(code)],
  allocate: (bytes) => ['/fake/allocate', String(bytes)],
  sleep: () => ['/fake/sleep'],
  report: (tmpfsPath) => ['/fake/report', tmpfsPath],
};
