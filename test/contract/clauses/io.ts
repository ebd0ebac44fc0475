import type { OutputPiece } from '../container-runtime.contract.js';
import { outputOf, type ContractSuite } from '../contract-case.js';

/** Output, stdin and the end of an attach. */
export function ioClauses({ test, begin, programs }: ContractSuite): void {
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
}
