import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAPSULE_VERSION } from '../../server/version.js';
import { requireEngine } from '../helpers/engine.js';
import { docker, EGRESS_IMAGE } from '../helpers/egress-lab.js';
import { leftBy, profileYaml } from '../helpers/egress-upstreams.js';
import { httpClient } from '../helpers/mcp-client.js';
import { startServer } from '../helpers/server-process.js';

// The egress proxy's whole lifecycle through images/docker-proxy, as compose runs the server: the
// allowlist must let network create, connect, list and remove through (and still refuse the rest).

const id = randomBytes(4).toString('hex');
const label = `capsule.test=egress-api-${id}`;
const network = `egt-${id}-api`;
const PROXY_IMAGE = `capsule/docker-proxy:${CAPSULE_VERSION}`;

test.before(async () => {
  await requireEngine();
  for (const [image, target] of [[PROXY_IMAGE, 'docker-proxy'], [EGRESS_IMAGE, 'egress-proxy']]) {
    await docker(['image', 'inspect', image!]).catch(() => {
      throw new Error(`image ${image} missing: run bash images/build.sh ${target}`);
    });
  }
});

test.after.always(async () => {
  await docker(['rm', '-f', `egt-${id}-docker-proxy`], { allowFail: true });
  await docker(['network', 'rm', network], { allowFail: true });
});

test('a server behind the docker-proxy creates, uses and removes the egress proxy and its networks; network prune and disconnect stay refused', async (t) => {
  await docker(['network', 'create', '--label', label, network]);
  await docker(['run', '-d', '--label', label, '--name', `egt-${id}-docker-proxy`, '--network', network, '--read-only', '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges', '-v', '/var/run/docker.sock:/var/run/docker.sock:ro', PROXY_IMAGE]);
  const ip = (await docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, `egt-${id}-docker-proxy`])).stdout.trim();
  const api = `http://${ip}:2375`;
  for (let i = 0; i < 50 && (await fetch(`${api}/_ping`).then((r) => r.status, () => 0)) !== 200; i++) await new Promise((r) => setTimeout(r, 100));

  const dir = mkdtempSync(join(tmpdir(), 'capsule-egress-profiles-'));
  writeFileSync(join(dir, 'default.yaml'), profileYaml('default', ''));
  writeFileSync(join(dir, 'pkgs.yaml'), profileYaml('pkgs', 'egress:\n  allow: ["pkg.example:443"]'));
  const server = await startServer({ DOCKER_HOST: `tcp://${ip}:2375`, CAPSULE_PROFILES_DIR: dir, CAPSULE_ALLOW_NETWORK_PROFILES: '1' });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : server.stop()));
  const { call, client } = await httpClient(server.url);
  const r = await call<{ stdout: string; network: { denied: Array<{ host: string; port: number }> } }>('run_command', {
    profile: 'pkgs', command: 'curl -s -o /dev/null -w "%{http_code}" http://not-on-the-list.test/',
  });
  t.is(r.s.stdout, '403', r.text);
  t.deepEqual(r.s.network.denied, [{ host: 'not-on-the-list.test', port: 80, attempts: 1 }]);
  await client.close();
  t.is(await server.stop(), 0);
  stopped = true;
  t.deepEqual(await leftBy(server.instance), [], 'removed through the docker-proxy');

  const refused = await Promise.all([
    fetch(`${api}/v1.41/networks/prune`, { method: 'POST' }),
    fetch(`${api}/v1.41/networks/${network}/disconnect`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }),
  ]);
  t.deepEqual(refused.map((x) => x.status), [403, 403]);
});
