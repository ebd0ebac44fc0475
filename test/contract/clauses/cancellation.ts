import { outputOf, type ContractSuite } from '../contract-case.js';

/** The caller's signal. */
export function cancellationClauses({ test, begin, programs }: ContractSuite): void {
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
}
