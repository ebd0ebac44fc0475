import test from 'ava';
import { createOptions } from '../../server/runtime/docker/docker-spec.js';
import { egressNames, internalCandidates } from '../../server/sandbox/egress/egress-plan.js';
import { proxySpec } from '../../server/sandbox/egress/proxy-container.js';

// Where the egress world goes: subnets and bridge names per server, and the proxy's create body.

test('a /16 pool gives 64 /22 candidates, started at a hash of the instance; the proxy at .2, sandboxes in the upper half', (t) => {
  const a = internalCandidates('10.213.0.0/16', 'capsule');
  t.is(a.length, 64);
  t.is(new Set(a.map((c) => c.subnet)).size, 64);
  for (const c of a) {
    const [o1, o2, o3] = c.subnet.split('.').map(Number);
    t.true(o1 === 10 && o2 === 213 && o3! % 4 === 0 && c.subnet.endsWith('.0/22'), c.subnet);
    t.is(c.gateway, `10.213.${o3}.1`);
    t.is(c.proxyIp, `10.213.${o3}.2`);
    t.is(c.ipRange, `10.213.${o3! + 2}.0/23`);
    t.true(c.bridgeNames.every((b) => /^capsule-egr\d+$/.test(b) && b.length <= 15), c.bridgeNames.join(' '));
  }
  t.not(internalCandidates('10.213.0.0/16', 'capsule-compose')[0]!.subnet, a[0]!.subnet, 'another server usually starts elsewhere');
  t.deepEqual(internalCandidates('10.213.0.0/16', 'capsule'), a, 'stable for one name');
});

test('a /24 pool is used whole; an unaligned base is aligned', (t) => {
  t.deepEqual(internalCandidates('192.168.77.0/24', 'x').map(({ subnet, proxyIp, ipRange }) => ({ subnet, proxyIp, ipRange })), [
    { subnet: '192.168.77.0/24', proxyIp: '192.168.77.2', ipRange: '192.168.77.128/25' },
  ]);
  t.is(internalCandidates('10.1.2.3/22', 'x')[0]!.subnet, '10.1.0.0/22');
});

test('names of the world are the instance\'s', (t) => {
  t.deepEqual(egressNames('capsule'), { internal: 'capsule-egress-in', outside: 'capsule-outside', state: 'capsule-egress-state', public: 'capsule-egress-public' });
});

test('the proxy\'s create body: the one lockdown, uid 10003, on the outside network, its health check in nanoseconds, no log copy', (t) => {
  const spec = proxySpec({ image: 'egress:1', instance: { name: 'i', bootId: 'b' }, outside: 'i-outside', internal: 'i-egress-in', proxyIp: '10.0.0.2', stateVolume: 's', publicVolume: 'p' }, 'egress-b-1');
  const body = createOptions(spec);
  t.like(body, { Image: 'egress:1', User: '10003:10003', Cmd: [], NetworkDisabled: false });
  t.deepEqual(body.Healthcheck, { Test: ['CMD', '/opt/capsule-egress/healthcheck.sh'], Interval: 2e9, Timeout: 3e9, Retries: 3, StartPeriod: 5e9 });
  t.like(body.HostConfig, { NetworkMode: 'i-outside', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'], Init: false, LogConfig: { Type: 'none', Config: {} } });
  t.deepEqual(body.HostConfig!.Mounts!.map((m) => [m.Source, m.Target, m.ReadOnly]), [['s', '/var/lib/capsule-egress', false], ['p', '/var/lib/capsule-egress-public', false]]);
  t.is(spec.labels['capsule.kind'], 'egress-proxy');
  t.is(spec.labels['capsule.run_id'], 'egress-b-1');
});

test('an egress sandbox\'s DNS fields reach the create body', (t) => {
  const body = createOptions({ ...proxySpec({ image: 'x', instance: { name: 'i', bootId: 'b' }, outside: 'o', internal: 'n', proxyIp: '1.2.3.4', stateVolume: 's', publicVolume: 'p' }, 'g'), dns: ['127.0.0.1'], dnsOptions: ['timeout:1', 'attempts:1'] });
  t.deepEqual(body.HostConfig!.Dns, ['127.0.0.1']);
  t.deepEqual(body.HostConfig!.DnsOptions, ['timeout:1', 'attempts:1']);
});
