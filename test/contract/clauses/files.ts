import { tarOf, entriesOf, SAMPLE_TREE, type ContractSuite } from '../contract-case.js';

/** Files through the archive API. */
export function filesClauses({ test, begin, programs }: ContractSuite): void {
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
}
