import type { ExecutionContext, TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { extract, pack, type Header } from 'tar-stream';
import { EngineUnavailableError, ImageMissingError } from '../../server/errors.js';
import { LINUX_CAPABILITIES, type LinuxCapability } from '../../server/runtime/capabilities.js';
import type { AttachedIo, ContainerRuntime, ContainerSpec, OutputStream } from '../../server/runtime/container-runtime.js';
import { VolumeInUseError } from '../../server/runtime/runtime-errors.js';

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
   * /proc/self/status), root (ro|rw: the root mount), tmpfs (the /proc/mounts options of `tmpfsPath`).
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

const MiB = 1024 * 1024;
const CASE = 'capsule.contract.case';
const ROLE = 'capsule.contract.role';

/** The CapEff mask of a set of capabilities, as the kernel prints it. */
export function capabilityMask(caps: readonly LinuxCapability[]): string {
  return caps.reduce((mask, cap) => mask | (1n << BigInt(LINUX_CAPABILITIES.indexOf(cap))), 0n).toString(16).padStart(16, '0');
}

/** Output as pieces: consecutive chunks of one stream joined. */
async function outputOf(io: AttachedIo): Promise<OutputPiece[]> {
  const pieces: OutputPiece[] = [];
  for await (const chunk of io.output) {
    const last = pieces.at(-1);
    if (last?.stream === chunk.stream) last.text += chunk.data.toString('utf8');
    else pieces.push({ stream: chunk.stream, text: chunk.data.toString('utf8') });
  }
  return pieces;
}

/** A tar of `entries` (header fields plus optional content). */
function tarOf(entries: Array<Partial<Header> & { name: string; content?: string }>): Readable {
  const archive = pack();
  for (const { content, ...header } of entries) archive.entry(header, content ?? '');
  archive.finalize();
  return PassThrough.from(archive as unknown as AsyncIterable<Buffer>);
}

/** A tar's entries by name, with their content. */
async function entriesOf(tar: Readable): Promise<Map<string, { header: Header; content: string }>> {
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

const SAMPLE_TREE = [
  { name: 'sub/', type: 'directory' as const, mode: 0o750, uid: 10001, gid: 10001 },
  { name: 'sub/a.txt', mode: 0o640, uid: 10001, gid: 10002, content: 'alpha' },
  { name: 'sub/link', type: 'symlink' as const, linkname: 'a.txt', mode: 0o777, uid: 10001, gid: 10001 },
];

/** Register the contract's tests: `makeRuntime` gives the runtime under test (a fresh one or a shared one). */
export function containerRuntimeContract(test: TestFn, makeRuntime: () => ContainerRuntime, options: ContractOptions): void {
  const { programs } = options;

  /** A fresh case: its runtime, labels only it uses, and helpers that clean up after it. */
  function begin(t: ExecutionContext) {
    const rt = makeRuntime();
    const id = randomBytes(6).toString('hex');
    const labels = { ...options.labels, [CASE]: id };
    const spec = (cmd: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
      image: options.image, cmd, user: '10001:10001', workdir: '/', env: {}, labels, openStdin: false, memoryBytes: 64 * MiB,
      nanoCpus: 5e8, pidsLimit: 32, ulimits: [], tmpfs: {}, volumes: [], network: 'none', readOnlyRootfs: true, capDrop: ['ALL'],
      noNewPrivileges: true, init: true, ...extra,
    });
    const create = async (s: ContainerSpec): Promise<string> => {
      const cid = await rt.create(s);
      t.teardown(() => rt.remove(cid));
      t.log(`container ${cid}`);
      return cid;
    };
    const volumeName = (role: string) => `capsule-contract-${id}-${role}`;
    const createVolume = async (name: string, extra: Record<string, string> = {}, driverOptions?: Record<string, string>) => {
      await rt.createVolume(name, { ...labels, ...extra }, driverOptions);
      t.teardown(() => rt.removeVolume(name).catch(() => undefined));
    };
    const anonymousData = { target: '/data', readOnly: false, labelsIfCreated: labels };
    return { rt, labels, spec, create, volumeName, createVolume, anonymousData };
  }

  test.after.always('the suite removes what it created', async () => {
    const rt = makeRuntime();
    for (const c of await rt.list(options.labels)) await rt.remove(c.id);
    for (const v of await rt.listVolumes(options.labels)) await rt.removeVolume(v.name).catch(() => undefined);
  });

  test('create makes a container and never starts it', async (t) => {
    const { rt, labels, spec, create } = begin(t);
    const id = await create(spec(programs.exit(0)));
    t.like(await rt.inspect(id), { running: false, exitCode: null, oomKilled: false, startedAt: null, finishedAt: null });
    t.deepEqual((await rt.list(labels)).map((c) => [c.id, c.state]), [[id, 'created']]);
  });

  test('output of a container attached before start arrives complete, in order, each chunk tagged stdout or stderr', async (t) => {
    const { rt, spec, create } = begin(t);
    const pieces: OutputPiece[] = [
      { stream: 'stdout', text: 'one\n' },
      { stream: 'stderr', text: 'two\n' },
      { stream: 'stdout', text: 'three\n' },
      { stream: 'stderr', text: 'four\n' },
    ];
    const id = await create(spec(programs.write(pieces)));
    const io = await rt.attach(id);
    await rt.start(id);
    t.deepEqual(await outputOf(io), pieces);
    t.is(await rt.wait(id), 0);
  });

  test('stdin of a container created with openStdin reaches the program, and ending it is EOF', async (t) => {
    const { rt, spec, create } = begin(t);
    const id = await create(spec(programs.cat(), { openStdin: true }));
    const io = await rt.attach(id);
    await rt.start(id);
    const output = outputOf(io);
    io.stdin!.write('hello ');
    io.stdin!.end('world\n');
    t.deepEqual(await output, [{ stream: 'stdout', text: 'hello world\n' }]);
    t.is(await rt.wait(id), 0);
  });

  test('a container created without openStdin has no stdin', async (t) => {
    const { rt, spec, create } = begin(t);
    const io = await rt.attach(await create(spec(programs.exit(0))));
    t.is(io.stdin, null);
    io.destroy();
  });

  test('wait resolves with the exit code, and inspect then reports it with start and finish times', async (t) => {
    const { rt, labels, spec, create } = begin(t);
    const id = await create(spec(programs.exit(3)));
    await rt.start(id);
    t.is(await rt.wait(id), 3);
    const state = await rt.inspect(id);
    t.like(state, { running: false, exitCode: 3, oomKilled: false });
    t.truthy(state.startedAt);
    t.truthy(state.finishedAt);
    t.deepEqual((await rt.list(labels)).map((c) => c.state), ['exited']);
  });

  test('a program past memoryBytes is OOM-killed: wait gives 137 and inspect reports oomKilled', async (t) => {
    const { rt, spec, create } = begin(t);
    const id = await create(spec(programs.allocate(256 * MiB), { memoryBytes: 32 * MiB }));
    await rt.start(id);
    t.is(await rt.wait(id), 137);
    t.like(await rt.inspect(id), { running: false, exitCode: 137, oomKilled: true });
  });

  test('kill delivers the signal to a running container', async (t) => {
    const { rt, spec, create } = begin(t);
    const id = await create(spec(programs.sleep()));
    await rt.start(id);
    await rt.kill(id, 'SIGKILL');
    t.is(await rt.wait(id), 137);
  });

  test('kill of a container that is not running (never started, stopped, gone) is not an error', async (t) => {
    const { rt, spec, create } = begin(t);
    const created = await create(spec(programs.exit(0)));
    await t.notThrowsAsync(rt.kill(created, 'SIGKILL'));
    const stopped = await create(spec(programs.exit(0)));
    await rt.start(stopped);
    await rt.wait(stopped);
    await t.notThrowsAsync(rt.kill(stopped, 'SIGTERM'));
    await rt.remove(stopped);
    await t.notThrowsAsync(rt.kill(stopped, 'SIGKILL'));
  });

  test('remove of a missing container is not an error, nor is removing twice', async (t) => {
    const { rt, labels, spec, create } = begin(t);
    const id = await create(spec(programs.exit(0)));
    await rt.remove(id);
    await t.notThrowsAsync(rt.remove(id));
    t.deepEqual(await rt.list(labels), []);
  });

  test('remove forces a running container out and takes its anonymous volumes with it', async (t) => {
    const { rt, labels, spec, create, anonymousData } = begin(t);
    const id = await create(spec(programs.sleep(), { volumes: [anonymousData] }));
    t.is((await rt.listVolumes(labels)).length, 1, 'an anonymous volume exists from create on');
    await rt.start(id);
    await rt.remove(id);
    t.deepEqual(await rt.list(labels), []);
    t.deepEqual(await rt.listVolumes(labels), []);
  });

  test('a mount of a missing named volume creates it with labelsIfCreated, and it outlives the container', async (t) => {
    const { rt, labels, spec, create, volumeName } = begin(t);
    const name = volumeName('mounted');
    t.teardown(() => rt.removeVolume(name).catch(() => undefined));
    const id = await create(spec(programs.exit(0), { volumes: [{ source: name, target: '/data', readOnly: false, labelsIfCreated: labels }] }));
    t.deepEqual((await rt.listVolumes(labels)).map((v) => v.name), [name]);
    await rt.remove(id);
    const [kept] = await rt.listVolumes(labels);
    t.is(kept?.name, name);
    t.like(kept?.labels, labels);
  });

  test("list finds containers in any state carrying every given label; '' matches any value", async (t) => {
    const { rt, labels, spec, create } = begin(t);
    const a = await create(spec(programs.exit(0), { labels: { ...labels, [ROLE]: 'a' } }));
    const b = await create(spec(programs.exit(0), { labels: { ...labels, [ROLE]: 'b' } }));
    await rt.start(b);
    await rt.wait(b);
    const ids = async (filter: Record<string, string>) => (await rt.list(filter)).map((c) => c.id).sort();
    t.deepEqual(await ids({ ...labels, [ROLE]: '' }), [a, b].sort());
    t.deepEqual(await ids({ ...labels, [ROLE]: 'a' }), [a]);
    t.deepEqual(await ids({ ...labels, [ROLE]: 'c' }), []);
    t.deepEqual(await ids({ ...labels, 'capsule.contract.absent': '' }), []);
    t.like((await rt.list({ ...labels, [ROLE]: 'a' }))[0]?.labels, { [ROLE]: 'a' });
  });

  test('putArchive extracts with the modes, uid and gid of the tar headers; getArchive of the stopped container gives them back, named from the last path component', async (t) => {
    const { rt, spec, create, anonymousData } = begin(t);
    const id = await create(spec(programs.exit(0), { volumes: [anonymousData] }));
    await rt.putArchive(id, '/data', tarOf(SAMPLE_TREE));
    await rt.start(id);
    await rt.wait(id);
    const entries = await entriesOf(await rt.getArchive(id, '/data/sub'));
    t.deepEqual([...entries.keys()].sort(), ['sub/', 'sub/a.txt', 'sub/link']);
    t.like(entries.get('sub/')?.header, { type: 'directory', uid: 10001, gid: 10001 });
    t.is((entries.get('sub/')?.header.mode ?? 0) & 0o777, 0o750);
    t.like(entries.get('sub/a.txt')?.header, { type: 'file', uid: 10001, gid: 10002 });
    t.is((entries.get('sub/a.txt')?.header.mode ?? 0) & 0o777, 0o640);
    t.is(entries.get('sub/a.txt')?.content, 'alpha');
    t.like(entries.get('sub/link')?.header, { type: 'symlink', linkname: 'a.txt' });
  });

  test('statPath reports a file and a directory, does not follow a final symlink, and is null for a missing path', async (t) => {
    const { rt, spec, create, anonymousData } = begin(t);
    const id = await create(spec(programs.exit(0), { volumes: [anonymousData] }));
    await rt.putArchive(id, '/data', tarOf(SAMPLE_TREE));
    t.like(await rt.statPath(id, '/data/sub/a.txt'), { name: 'a.txt', type: 'file', size: 5, mode: 0o640 });
    t.like(await rt.statPath(id, '/data/sub'), { name: 'sub', type: 'directory', mode: 0o750 });
    t.like(await rt.statPath(id, '/data/sub/link'), { name: 'link', type: 'symlink', linkTarget: '/data/sub/a.txt' });
    t.is(await rt.statPath(id, '/data/missing'), null);
  });

  test("createVolume makes a volume listVolumes finds by every label, with its driver options; '' matches any value", async (t) => {
    const { rt, labels, volumeName, createVolume } = begin(t);
    const name = volumeName('made');
    const driverOptions = { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' };
    await createVolume(name, { [ROLE]: 'x' }, driverOptions);
    const [found, ...more] = await rt.listVolumes({ ...labels, [ROLE]: '' });
    t.deepEqual(more, []);
    t.is(found?.name, name);
    t.like(found?.labels, { ...labels, [ROLE]: 'x' });
    t.deepEqual(found?.options, driverOptions);
    t.deepEqual(await rt.listVolumes({ ...labels, [ROLE]: 'y' }), []);
  });

  test('removeVolume removes a volume, and one that is missing is not an error', async (t) => {
    const { rt, labels, volumeName, createVolume } = begin(t);
    const name = volumeName('gone');
    await createVolume(name);
    await rt.removeVolume(name);
    t.deepEqual(await rt.listVolumes(labels), []);
    await t.notThrowsAsync(rt.removeVolume(name));
  });

  test('removeVolume of a volume a container mounts is VolumeInUseError and keeps it; once the container is removed it goes', async (t) => {
    const { rt, labels, spec, create, volumeName, createVolume } = begin(t);
    const name = volumeName('used');
    await createVolume(name);
    const id = await create(spec(programs.exit(0), { volumes: [{ source: name, target: '/data', readOnly: false }] }));
    const err = await t.throwsAsync(rt.removeVolume(name), { instanceOf: VolumeInUseError });
    t.is(err?.volume, name);
    t.is((await rt.listVolumes(labels)).length, 1);
    await rt.remove(id);
    await rt.removeVolume(name);
    t.deepEqual(await rt.listVolumes(labels), []);
  });

  test('a call whose signal is already aborted fails with the abort reason and does nothing', async (t) => {
    const { rt, labels, spec, volumeName } = begin(t);
    const controller = new AbortController();
    const reason = new Error('the caller gave up');
    controller.abort(reason);
    const { signal } = controller;
    t.is(await t.throwsAsync(rt.create(spec(programs.exit(0)), { signal })), reason);
    t.is(await t.throwsAsync(rt.createVolume(volumeName('never'), labels, undefined, { signal })), reason);
    t.deepEqual(await rt.list(labels), []);
    t.deepEqual(await rt.listVolumes(labels), []);
  });

  test('aborting the signal of a pending wait rejects it with the abort reason and leaves the container running', async (t) => {
    const { rt, spec, create } = begin(t);
    const id = await create(spec(programs.sleep()));
    await rt.start(id);
    const controller = new AbortController();
    const reason = new Error('stop waiting');
    const waiting = rt.wait(id, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    t.is(await t.throwsAsync(waiting), reason);
    t.like(await rt.inspect(id), { running: true });
  });

  test("aborting an attach's signal after it opened ends its output; the container keeps running", async (t) => {
    const { rt, spec, create } = begin(t);
    const id = await create(spec(programs.sleep()));
    const controller = new AbortController();
    const io = await rt.attach(id, { signal: controller.signal });
    await rt.start(id);
    setTimeout(() => controller.abort(new Error('detach')), 50);
    await outputOf(io).catch(() => undefined);
    await io.closed;
    t.like(await rt.inspect(id), { running: true });
  });

  test('an unreachable engine fails every call with EngineUnavailableError', async (t) => {
    const { spec } = begin(t);
    const rt = options.unreachableRuntime();
    for (const call of [() => rt.info(), () => rt.list({}), () => rt.create(spec(programs.exit(0))), () => rt.inspect('x'), () => rt.listVolumes({})]) {
      await t.throwsAsync(call(), { instanceOf: EngineUnavailableError });
    }
  });

  test('a request the engine never answers fails at its request timeout with EngineUnavailableError naming the call; the caller can abort it sooner', async (t) => {
    const { spec } = begin(t);
    const silent = await options.silentRuntime(200);
    t.teardown(() => silent.close());
    const err = await t.throwsAsync(silent.runtime.inspect('x'), { instanceOf: EngineUnavailableError });
    t.regex(err!.message, /did not answer `inspect` within 200 ms/);
    t.like(err!.details, { call: 'inspect', timeout_ms: 200 });
    const controller = new AbortController();
    const reason = new Error('no longer needed');
    setTimeout(() => controller.abort(reason), 20);
    t.is(await t.throwsAsync(silent.runtime.create(spec(programs.exit(0)), { signal: controller.signal })), reason);
  });

  test('create with an image the engine does not have is ImageMissingError naming the image, and creates nothing', async (t) => {
    const { rt, labels, spec } = begin(t);
    const err = await t.throwsAsync(rt.create(spec(programs.exit(0), { image: options.missingImage })), { instanceOf: ImageMissingError });
    t.true(err!.message.includes(options.missingImage), err!.message);
    t.deepEqual(await rt.list(labels), []);
    t.is(await rt.inspectImage(options.missingImage), null);
    t.truthy((await rt.inspectImage(options.image))?.id);
  });

  for (const openStdin of [false, true]) {
    test(`AttachedIo.closed resolves when a container that wrote nothing stops, its output unread (openStdin ${openStdin})`, async (t) => {
      const { rt, spec, create } = begin(t);
      const id = await create(spec(programs.sleep(), { openStdin }));
      const io = await rt.attach(id);
      await rt.start(id);
      await rt.kill(id, 'SIGKILL');
      await io.closed;
      t.is(await rt.wait(id), 137);
    });
  }

  test('AttachedIo.closed resolves when a container that wrote output stops and its output is read', async (t) => {
    const { rt, spec, create } = begin(t);
    const id = await create(spec(programs.write([{ stream: 'stdout', text: 'bye\n' }])));
    const io = await rt.attach(id);
    await rt.start(id);
    const output = outputOf(io);
    await io.closed;
    t.deepEqual(await output, [{ stream: 'stdout', text: 'bye\n' }]);
  });

  test('the hardening fields reach the program: user, no_new_privs, capabilities, read-only root, tmpfs size, mode and owner', async (t) => {
    const { rt, spec, create } = begin(t);
    const report = async (s: ContainerSpec, tmpfsPath: string) => {
      const id = await create(s);
      const io = await rt.attach(id);
      await rt.start(id);
      const text = (await outputOf(io)).filter((p) => p.stream === 'stdout').map((p) => p.text).join('');
      t.is(await rt.wait(id), 0, text);
      const facts = Object.fromEntries(text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const mountOptions = new Map((facts['tmpfs'] ?? '').split(',').map((o) => [o.split('=')[0], o.split('=')[1] ?? '']));
      return { ...facts, tmpfs: mountOptions };
    };
    const locked = await report(spec(programs.report('/tmp'), { tmpfs: { '/tmp': { sizeBytes: MiB, mode: 0o1777 } } }), '/tmp');
    t.like(locked, { uid: '10001', gid: '10001', no_new_privs: '1', cap_eff: capabilityMask([]), root: 'ro' });
    for (const flag of ['rw', 'nosuid', 'nodev', 'noexec']) t.true(locked.tmpfs.has(flag), `tmpfs ${flag}`);
    t.is(locked.tmpfs.get('size'), '1024k');
    t.is(locked.tmpfs.get('mode') ?? '1777', '1777');

    const caps: LinuxCapability[] = ['CHOWN', 'FOWNER'];
    const root = await report(
      spec(programs.report('/scratch'), {
        user: '0:0', capAdd: caps, noNewPrivileges: false, readOnlyRootfs: false,
        tmpfs: { '/scratch': { sizeBytes: 2 * MiB, mode: 0o750, uid: 10001, gid: 10002 } },
      }),
      '/scratch',
    );
    t.like(root, { uid: '0', gid: '0', no_new_privs: '0', cap_eff: capabilityMask(caps), root: 'rw' });
    t.like(Object.fromEntries(root.tmpfs), { size: '2048k', mode: '750', uid: '10001', gid: '10002' });
  });
}
