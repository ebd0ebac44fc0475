import type { LinuxCapability } from '../../../server/runtime/capabilities.js';
import type { ContainerSpec } from '../../../server/runtime/container-runtime.js';
import { MiB, capabilityMask, outputOf, type ContractSuite } from '../contract-case.js';

/** The typed hardening fields, as the program sees them from inside. */
export function hardeningClauses({ test, begin, programs }: ContractSuite): void {
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
