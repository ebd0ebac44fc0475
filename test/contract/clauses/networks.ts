import { type NetworkConflict, NetworkConflictError, NetworkInUseError } from '../../../server/runtime/runtime-errors.js';
import { outputOf, ROLE, type ContractSuite } from '../contract-case.js';

const inRange = (ip: string | undefined, prefix: string, from: number, to: number) => {
  const last = Number(ip?.split('.')[3]);
  return ip?.startsWith(prefix) === true && last >= from && last <= to;
};

/** Networks: create with a subnet, address range and bridge name; connect at a pinned address; refusals. */
export function networksClauses({ test, begin, programs }: ContractSuite): void {
  test('createNetwork makes a labelled network listNetworks finds; members get addresses from ipRange, connectNetwork pins one', async (t) => {
    const { rt, labels, spec, create, createNetwork } = begin(t);
    const net = await createNetwork('pool', { labels: { ...labels, [ROLE]: 'pool' } });
    const prefix = net.subnet!.replace(/0\/24$/, '');
    t.true(await rt.networkExists(net.name));
    const [found, ...more] = await rt.listNetworks({ ...labels, [ROLE]: '' });
    t.deepEqual(more, []);
    t.like(found, { name: net.name, internal: true, subnet: net.subnet, labels: { ...labels, [ROLE]: 'pool' } });
    t.truthy(found?.id);
    t.deepEqual(await rt.listNetworks({ ...labels, [ROLE]: 'other' }), []);

    const member = await create(spec(programs.sleep(), { network: net.name }));
    // Joined from another network: Docker accepts a connect of a container created with network
    // 'none' and ignores it (measured on 20.10), so the contract never asks for that.
    const first = await createNetwork('first');
    const pinned = await create(spec(programs.sleep(), { network: first.name }));
    await rt.connectNetwork(net.name, pinned, { ipv4Address: `${prefix}2` });
    await rt.start(member);
    await rt.start(pinned);
    const [m, p] = [await rt.inspect(member), await rt.inspect(pinned)];
    t.true(inRange(m.addresses[net.name], prefix, 128, 254), `dynamic address ${m.addresses[net.name]} in ${net.ipRange}`);
    t.is(p.addresses[net.name], `${prefix}2`);
    t.truthy(p.addresses[first.name], 'still on the network it was created on');
  });

  test('createNetwork refuses a taken name, an overlapping subnet and a taken bridge name with NetworkConflictError saying which', async (t) => {
    const { rt, labels, createNetwork } = begin(t);
    const first = await createNetwork('first');
    const conflict = async (overrides: Partial<typeof first>, expected: NetworkConflict) => {
      const err = await t.throwsAsync(createNetwork('second', overrides), { instanceOf: NetworkConflictError });
      t.is(err?.conflict, expected, err?.message);
    };
    await conflict({ name: first.name }, 'name');
    await conflict({ subnet: first.subnet, gateway: first.gateway, ipRange: first.ipRange }, 'subnet');
    await conflict({ bridgeName: first.bridgeName }, 'bridge');
    t.deepEqual((await rt.listNetworks(labels)).map((n) => n.name), [first.name], 'a refused create leaves nothing');
  });

  test('removeNetwork of a network a started container is on is NetworkInUseError and keeps it; then it goes; a missing one is not an error', async (t) => {
    const { rt, labels, spec, create, createNetwork } = begin(t);
    const net = await createNetwork('used');
    // Docker makes a container's endpoint at its start: one only created does not hold the network.
    const id = await create(spec(programs.sleep(), { network: net.name }));
    await rt.start(id);
    const err = await t.throwsAsync(rt.removeNetwork(net.name), { instanceOf: NetworkInUseError });
    t.is(err?.network, net.name);
    t.is((await rt.listNetworks(labels)).length, 1);
    await rt.remove(id);
    await rt.removeNetwork(net.name);
    t.false(await rt.networkExists(net.name));
    await t.notThrowsAsync(rt.removeNetwork(net.name));
  });

  test('dnsOptions reach the resolv.conf a program on a network reads', async (t) => {
    const { rt, spec, create, createNetwork } = begin(t);
    // With network 'none' Docker writes no options (there is nothing to resolve through).
    const net = await createNetwork('dns');
    const read = async (dnsOptions?: string[]) => {
      const id = await create(spec(programs.report('/tmp'), { network: net.name, ...(dnsOptions ? { dnsOptions } : {}) }));
      const io = await rt.attach(id);
      await rt.start(id);
      const text = (await outputOf(io)).map((p) => p.text).join('');
      await rt.wait(id);
      return (/^dns_options=(.*)$/m.exec(text)?.[1] ?? '').split(' ').filter(Boolean);
    };
    // The engine may add its own (Docker: ndots:0 on user-defined networks).
    const given = await read(['timeout:1', 'attempts:1']);
    t.true(given.includes('timeout:1') && given.includes('attempts:1'), given.join(' '));
    t.false((await read()).some((o) => o.startsWith('timeout:')));
  });

  test('a health check makes health healthy while it passes and unhealthy after `retries` failures; null without one', async (t) => {
    const { rt, spec, create } = begin(t);
    const check = { intervalMs: 100, timeoutMs: 5000, retries: 2, startPeriodMs: 0 };
    const passing = await create(spec(programs.sleep(), { healthcheck: { ...check, argv: programs.exit(0) } }));
    const failing = await create(spec(programs.sleep(), { healthcheck: { ...check, argv: programs.exit(1) } }));
    const none = await create(spec(programs.sleep()));
    for (const id of [passing, failing, none]) await rt.start(id);
    const settle = async (id: string) => {
      for (let i = 0; i < 100; i++) {
        const { health } = await rt.inspect(id);
        if (health !== 'starting') return health;
        await new Promise((r) => setTimeout(r, 100));
      }
      return 'starting';
    };
    t.is(await settle(passing), 'healthy');
    t.is(await settle(failing), 'unhealthy');
    t.is((await rt.inspect(none)).health, null);
  });
}
