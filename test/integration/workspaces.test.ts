import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { InvalidInputError, NotFoundError, QuotaExceededError } from '../../server/errors.js';
import { realServices, requireEngine, runtime } from '../helpers/engine.js';
import { runtimeCases } from '../helpers/runtimes.js';
import { silentLog } from '../helpers/fixtures.js';
import { hostQgroupBytes } from '../helpers/host-volumes.js';
import { volumeName } from '../../server/sandbox/workspaces/workspace-service.js';
import { WorkspaceHelper } from '../../server/sandbox/workspaces/workspace-helper.js';
import { DEFAULT_SANDBOX_IMAGE } from '../../server/version.js';

test.before(requireEngine);
const base = realServices();
const { workspaces, volumes } = base;
const OWNER = 'ws-test';

// Whatever a failing test left behind: every workspace volume this file's owner made.
test.after.always(async () => {
  for (const v of await runtime.listVolumes({ 'capsule.owner': OWNER, 'capsule.instance': 'itest' })) await volumes.remove([v.name]).catch(() => undefined);
  // Volumes a mount re-created after their workspace was deleted (a list racing a delete) are expired.
  await workspaces.sweepExpired();
});

/**
 * Sweep, then what is left of one workspace's volumes. Tests of this file run at once and each may
 * sweep, so a volume can be removed by another test's sweep: the count of one sweep proves nothing,
 * what is left afterwards does (briefly re-checked while a concurrent removal finishes).
 */
async function sweptVolumes(workspaceId: string) {
  await workspaces.sweepExpired();
  let left = await runtime.listVolumes({ 'capsule.workspace': workspaceId });
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = await runtime.listVolumes({ 'capsule.workspace': workspaceId });
  }
  return left;
}

// Serial: another test's sweep would remove the re-created (expired) volume before this one looks at it.
test.serial('a workspace volume re-created by a mount after its deletion is labelled, expired, still bounded, hidden and swept', async (t) => {
  const ws = await workspaces.create(OWNER);
  const mount = await workspaces.volumeFor(OWNER, ws.workspace_id);
  t.truthy(mount.driverOptions?.device, 'a quota-bound workspace');
  await runtime.removeVolume(mount.volume);
  {
    // What a run or a file helper racing a delete_workspace does: mount the volume it found a moment ago.
    // (Usage reads no longer mount workspaces: they read the qgroup through the volume helper.)
    await using _helper = await WorkspaceHelper.create({ runtime, log: silentLog, instance: { name: 'itest', bootId: 'itest' }, image: DEFAULT_SANDBOX_IMAGE, live: new Set() }, mount);
    const [recreated] = await runtime.listVolumes({ 'capsule.workspace': ws.workspace_id });
    t.is(recreated?.name, mount.volume, 'the engine re-created the volume on mount');
    t.is(recreated?.labels['capsule.managed'], 'true', 'and it carries the labels a leak check looks for');
    t.is(recreated?.labels['capsule.recreated'], 'true');
    t.is(recreated?.options['device'], mount.driverOptions?.device, 'bound to the same quota\'d subvolume, never an unbounded volume');
    await t.throwsAsync(workspaces.info(OWNER, ws.workspace_id), { instanceOf: NotFoundError });
  }
  t.deepEqual(await sweptVolumes(ws.workspace_id), []);
  t.is((await volumes.usage([mount.volume])).get(mount.volume), null, 'the sweep removed its subvolume too');
});

test('a 50 MB file within the quota streams in and out intact', async (t) => {
  const ws = await workspaces.create(OWNER);
  const data = randomBytes(50 * 1024 * 1024);
  await workspaces.writeFileStream(OWNER, ws.workspace_id, 'big/blob.bin', Readable.from([data.subarray(0, 1 << 24), data.subarray(1 << 24)]), data.length);
  const file = await workspaces.openFile(OWNER, ws.workspace_id, 'big/blob.bin');
  t.is(file.size, data.length);
  const hash = createHash('sha256');
  for await (const chunk of file.stream) hash.update(chunk as Buffer);
  t.is(hash.digest('hex'), createHash('sha256').update(data).digest('hex'));
  const info = await workspaces.info(OWNER, ws.workspace_id);
  // Bytes on disk as the kernel counts them against the quota: the data plus some metadata.
  // (Before disk quotas this was the sum of file sizes, exactly data.length.)
  t.is(info.bytes, await hostQgroupBytes('itest', volumeName(ws.workspace_id)));
  t.true(info.bytes >= data.length && info.bytes < data.length + (1 << 20), `${info.bytes} bytes`);
  await workspaces.delete(OWNER, ws.workspace_id);
});

test('workspaces belong to their owner and expire', async (t) => {
  const ws = await workspaces.create(OWNER, 1);
  await t.throwsAsync(workspaces.readFile('someone-else', ws.workspace_id, 'x'), { instanceOf: NotFoundError });
  await t.throwsAsync(base.sandbox.runCommand({ command: 'true', workspace_id: ws.workspace_id }, { owner: 'someone-else' }), { instanceOf: NotFoundError });
  await new Promise((r) => setTimeout(r, 1200));
  await t.throwsAsync(workspaces.volumeFor(OWNER, ws.workspace_id), { instanceOf: NotFoundError });
  t.deepEqual(await sweptVolumes(ws.workspace_id), []);
});

// Runs in workspaces, files given and collected: the same under every OCI runtime (gVisor reaches the
// volume through its gofer, so ownership, modes, symlinks and the kernel's quota are checked there too).
for (const rc of runtimeCases()) {
  test.before(rc.ready);
  // Its own services: a workspace belongs to the store of the services that made it.
  const { sandbox, workspaces } = realServices({ profiles: [rc.profile()] });

  test(`[${rc.label}] text and binary files round-trip`, async (t) => {
    const ws = await workspaces.create(OWNER);
    const binary = randomBytes(3000);
    await workspaces.writeFiles(OWNER, ws.workspace_id, [
      { path: 'notes/hello.txt', content: 'héllo wörld\n' },
      { path: '/workspace/bin/data.bin', content: binary.toString('base64'), encoding: 'base64' },
      { path: 'run.sh', content: '#!/bin/sh\necho ran\n', mode: 0o755 },
    ]);
    t.is((await workspaces.readFile(OWNER, ws.workspace_id, 'notes/hello.txt')).content.toString(), 'héllo wörld\n');
    const bin = await workspaces.readFile(OWNER, ws.workspace_id, 'bin/data.bin');
    t.true(bin.content.equals(binary));
    const part = await workspaces.readFile(OWNER, ws.workspace_id, 'bin/data.bin', 1000, 500);
    t.true(part.content.equals(binary.subarray(1000, 1500)));
    t.false(part.eof);
    const r = await sandbox.runCommand({ command: './run.sh && stat -c "%u %a" run.sh notes/hello.txt && echo more >> notes/hello.txt', workspace_id: ws.workspace_id }, { owner: OWNER });
    t.is(r.stdout, 'ran\n10001 755\n10001 644\n', r.stderr);
    t.is(r.runtime, rc.runtime);
    t.is((await workspaces.readFile(OWNER, ws.workspace_id, 'notes/hello.txt')).content.toString(), 'héllo wörld\nmore\n');
    const listing = await workspaces.listFiles(OWNER, ws.workspace_id, '', true);
    t.deepEqual(listing.entries.map((e) => `${e.type}:${e.path}`).sort(), ['directory:bin', 'directory:notes', 'file:bin/data.bin', 'file:notes/hello.txt', 'file:run.sh']);
    await workspaces.deleteFiles(OWNER, ws.workspace_id, ['notes']);
    t.deepEqual((await workspaces.listFiles(OWNER, ws.workspace_id)).entries.map((e) => e.path).sort(), ['bin', 'run.sh']);
    await workspaces.delete(OWNER, ws.workspace_id);
  });

  test(`[${rc.label}] over quota: rejected with nothing written; a run that exceeds it is reported`, async (t) => {
    const small = realServices({ profiles: [rc.profile()], env: { CAPSULE_WORKSPACE_MAX_BYTES: String(1 << 20) } });
    const ws = await small.workspaces.create(OWNER);
    await small.workspaces.writeFiles(OWNER, ws.workspace_id, [{ path: 'a.txt', content: 'x'.repeat(600_000) }]);
    const err = await t.throwsAsync(
      small.workspaces.writeFiles(OWNER, ws.workspace_id, [{ path: 'b.txt', content: 'y'.repeat(100) }, { path: 'c.txt', content: 'z'.repeat(600_000) }]),
      { instanceOf: QuotaExceededError },
    );
    t.regex(err!.message, /quota exceeded.*Nothing was written/);
    t.deepEqual((await small.workspaces.listFiles(OWNER, ws.workspace_id)).entries.map((e) => e.path), ['a.txt']);
    const r = await small.sandbox.runCommand({ command: 'head -c 2000000 /dev/zero > big.bin', workspace_id: ws.workspace_id }, { owner: OWNER });
    t.is(r.exit_code, 0);
    t.true(r.workspace?.over_quota);
    t.true((r.workspace?.bytes ?? 0) > 1 << 20);
    await small.workspaces.delete(OWNER, ws.workspace_id);
  });

  test(`[${rc.label}] traversal corpus: paths, NUL and newlines, symlinks made by a run, hostile archives`, async (t) => {
    const ws = await workspaces.create(OWNER);
    const id = ws.workspace_id;
    for (const bad of ['../x', '/etc/passwd', 'a/../../x', 'x\0y', 'a\nb', '/workspace/../etc/passwd']) {
      await t.throwsAsync(workspaces.writeFiles(OWNER, id, [{ path: bad, content: 'x' }]), { instanceOf: InvalidInputError }, `write ${JSON.stringify(bad)}`);
      await t.throwsAsync(workspaces.readFile(OWNER, id, bad), { instanceOf: InvalidInputError }, `read ${JSON.stringify(bad)}`);
    }
    const r = await sandbox.runCommand({ command: 'ln -s /etc/passwd passwd && ln -s /etc etc && ln -s ../../etc/hostname rel && echo inside > real.txt && ln -s real.txt ok', workspace_id: id }, { owner: OWNER });
    t.is(r.exit_code, 0, r.stderr);
    const e1 = await t.throwsAsync(workspaces.readFile(OWNER, id, 'passwd'), { instanceOf: InvalidInputError });
    t.regex(e1!.message, /"passwd" is a symlink that leads outside the workspace/);
    await t.throwsAsync(workspaces.readFile(OWNER, id, 'etc/passwd'), { instanceOf: InvalidInputError });
    await t.throwsAsync(workspaces.readFile(OWNER, id, 'rel'), { instanceOf: InvalidInputError });
    await t.throwsAsync(workspaces.writeFiles(OWNER, id, [{ path: 'etc/evil', content: 'x' }]), { instanceOf: InvalidInputError });
    t.is((await workspaces.readFile(OWNER, id, 'ok')).content.toString(), 'inside\n', 'symlinks inside the workspace are followed');

    const hostile = async (build: (p: ReturnType<typeof pack>) => void) => {
      const p = pack();
      build(p);
      p.finalize();
      return workspaces.upload(OWNER, id, Readable.from(p as unknown as AsyncIterable<Buffer>));
    };
    await t.throwsAsync(hostile((p) => p.entry({ name: '../escape.txt' }, 'x')), { message: /contains "\.\."/ });
    await t.throwsAsync(hostile((p) => p.entry({ name: '/etc/cron.d/x' }, 'x')), { message: /absolute/ });
    await t.throwsAsync(hostile((p) => p.entry({ name: 'link', type: 'symlink', linkname: '/etc/shadow' })), { message: /links outside/ });
    await t.throwsAsync(hostile((p) => {
      p.entry({ name: 'good.txt' }, 'fine');
      p.entry({ name: 'sub/../../bad.txt' }, 'x');
    }), { message: /contains "\.\."/ });
    await t.throwsAsync(workspaces.readFile(OWNER, id, 'good.txt'), { instanceOf: NotFoundError }, 'a rejected archive leaves nothing behind');
    await hostile((p) => {
      p.entry({ name: 'up/a.txt' }, 'A');
      p.entry({ name: 'up/l', type: 'symlink', linkname: 'a.txt' });
    });
    t.is((await workspaces.readFile(OWNER, id, 'up/l')).content.toString(), 'A');
    await workspaces.delete(OWNER, id);
  });

  test(`[${rc.label}] collect returns files a run produced: embedded without a workspace, links with one`, async (t) => {
    const r = await sandbox.runCode({
      language: 'python',
      code: 'import os\nos.makedirs("out", exist_ok=True)\nopen("out/a.txt","w").write("alpha")\nopen("out/b.bin","wb").write(bytes([0,255,1]))\nopen("skip.log","w").write("no")',
      collect: ['out/*'],
    });
    t.is(r.exit_code, 0, r.stderr);
    const files = Object.fromEntries((r.files ?? []).map((f) => [f.path, f]));
    t.like(files['out/a.txt'], { content: 'alpha', encoding: 'utf8', mime_type: 'text/plain' });
    t.like(files['out/b.bin'], { content: Buffer.from([0, 255, 1]).toString('base64'), encoding: 'base64' });
    t.false('skip.log' in files);

    const ws = await workspaces.create(OWNER);
    const w = await sandbox.runCommand({ command: 'echo kept > result.txt', workspace_id: ws.workspace_id, collect: ['result.txt'] }, { owner: OWNER });
    t.like(w.files?.[0], { path: 'result.txt', uri: `capsule://workspaces/${ws.workspace_id}/files/result.txt` });
    await workspaces.delete(OWNER, ws.workspace_id);
  });

  test(`[${rc.label}] files without a workspace are written before start and are writable`, async (t) => {
    const r = await sandbox.runCommand({ command: 'cat in/data.txt && echo x >> in/data.txt && id -u', files: [{ path: 'in/data.txt', content: 'given\n' }] });
    t.is(r.stdout, 'given\n10001\n', r.stderr);
  });

  test(`[${rc.label}] a workspace is shared by sequential runs: git init, then git status`, async (t) => {
    const ws = await workspaces.create(OWNER);
    const init = await sandbox.runCommand({ command: 'git init -q && git config user.email a@b && git config user.name t && echo hi > f && git add f && git commit -qm one && echo ok', workspace_id: ws.workspace_id }, { owner: OWNER });
    t.is(init.stdout, 'ok\n', init.stderr);
    const status = await sandbox.runCommand({ command: 'echo change >> f && git status --short && git log --oneline | wc -l', workspace_id: ws.workspace_id }, { owner: OWNER });
    t.is(status.stdout, ' M f\n1\n', status.stderr);
    await workspaces.delete(OWNER, ws.workspace_id);
  });
}
