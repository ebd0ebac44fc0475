import { ROLE, type ContractSuite } from '../contract-case.js';

/** Killing, removing and listing containers. */
export function removalClauses({ test, begin, programs }: ContractSuite): void {
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
}
