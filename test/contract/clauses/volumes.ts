import { VolumeInUseError } from '../../../server/runtime/runtime-errors.js';
import { ROLE, type ContractSuite } from '../contract-case.js';

/** Named and anonymous volumes. */
export function volumesClauses({ test, begin, programs, options }: ContractSuite): void {
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
}
