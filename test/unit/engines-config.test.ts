import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import { parseEngines } from '../../server/engines-config.js';
import { modemOptions } from '../../server/runtime/docker/docker-client.js';

test('CAPSULE_ENGINES: names, endpoints, labels and a cert folder per engine', (t) => {
  const c = loadConfig({ CAPSULE_ENGINES: 'a=unix:///var/run/docker-a.sock;zone=x , b=tcp://127.0.0.3:2376;cert_path=/certs/b;gpu=yes' });
  t.deepEqual(c.CAPSULE_ENGINES, [
    { name: 'a', endpoint: 'unix:///var/run/docker-a.sock', certPath: null, labels: { zone: 'x' } },
    { name: 'b', endpoint: 'tcp://127.0.0.3:2376', certPath: '/certs/b', labels: { gpu: 'yes' } },
  ]);
  t.is(loadConfig({}).CAPSULE_ENGINES, undefined, 'unset: the one engine of DOCKER_HOST');
  t.is(loadConfig({}).CAPSULE_ENGINE_CHECK_INTERVAL_MS, 1000);
});

test('CAPSULE_ENGINES: each bad entry is named', (t) => {
  const bad: Array<[string, RegExp]> = [
    ['a', /"a": an entry is name=endpoint/],
    ['A=unix:///x', /an entry is name=endpoint/],
    ['a=http://127.0.0.1:2375', /engine "a": "http:\/\/127.0.0.1:2375" is not unix:\/\/\/path or tcp:\/\/host:port/],
    ['a=unix:///x,a=unix:///y', /engine "a" is named twice/],
    ['a=unix:///x;zone', /engine "a": "zone" is not key=value/],
    ['a=unix:///x;cert_path=/c', /cert_path only applies to a tcp:\/\/ endpoint/],
    [' , ', /names no engine/],
  ];
  for (const [value, message] of bad) {
    t.throws(() => loadConfig({ CAPSULE_ENGINES: value }), { message: /CAPSULE_ENGINES/ }, value);
    const parsed = parseEngines(value);
    t.true('error' in parsed && message.test(parsed.error), `${value}: ${JSON.stringify(parsed)}`);
  }
});

test('an explicit tcp:// endpoint always uses TLS with the docker CLI conventions (it was plain HTTP before)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-tls-'));
  const write = (d: string, tag: string) => {
    mkdirSync(d, { recursive: true });
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(d, f), `${tag} ${f}`);
  };
  write(dir, 'shared');
  write(join(dir, 'b'), 'b');
  write(join(dir, 'own'), 'own');
  t.deepEqual(modemOptions('unix:///var/run/docker-a.sock', undefined, {}), { socketPath: '/var/run/docker-a.sock' });
  const own = modemOptions('tcp://127.0.0.2:2375', join(dir, 'own'), {});
  t.like(own, { protocol: 'https', host: '127.0.0.2', port: 2375 });
  t.is(own.ca?.toString(), 'own ca.pem', 'its own cert folder');
  t.is(own.cert?.toString(), 'own cert.pem');
  t.is(own.key?.toString(), 'own key.pem');
  t.is(modemOptions('tcp://127.0.0.3:2376', undefined, { DOCKER_CERT_PATH: dir }, 'b').ca?.toString(), 'b ca.pem', 'DOCKER_CERT_PATH/<name>/');
  t.is(modemOptions('tcp://127.0.0.4:2376', undefined, { DOCKER_CERT_PATH: dir }, 'c').ca?.toString(), 'shared ca.pem', 'DOCKER_CERT_PATH');
  t.is(modemOptions('tcp://127.0.0.4:2376', undefined, { DOCKER_CERT_PATH: dir }).protocol, 'https', 'no plain TCP');
  t.throws(() => modemOptions('tcp://127.0.0.2:2376', join(dir, 'nope'), {}), { message: /TLS file .*nope\/ca.pem cannot be read/ });
});
