import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../server/version.js';
import { docker, EgressLab } from './egress-lab.js';

/**
 * Local upstreams for egress tests of the whole server: an outside network with two upstream
 * containers (python http.server on 8000, TLS on 8443 with a test CA), reached by name only through
 * the server's proxy, and a profiles folder with egress profiles. Nothing here reaches any address
 * outside these containers.
 *   allowed (aliases up-http, up-https, sec-http, sec-https): /hello.txt, /echo (request headers as
 *     JSON), a PEP 503 index at /simple/ with one wheel (capsule-probe 1.0), and a registry document
 *     at /capsule-probe (npm view reads it: latest 1.2.3)
 *   denied (alias denied-host): the same files, on no profile's list
 */

/** The wheel and index, made in the upstream container by its own python3 (PEP 427 layout). */
const PACKAGE_INDEX = String.raw`python3 - <<'PY'
import base64, hashlib, json, os, zipfile
name = 'capsule_probe-1.0-py3-none-any.whl'
files = {
    'capsule_probe/__init__.py': b'VALUE = 42\n',
    'capsule_probe-1.0.dist-info/METADATA': b'Metadata-Version: 2.1\nName: capsule-probe\nVersion: 1.0\n',
    'capsule_probe-1.0.dist-info/WHEEL': b'Wheel-Version: 1.0\nGenerator: capsule-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
}
record = []
with zipfile.ZipFile(name, 'w') as z:
    for path, data in files.items():
        z.writestr(path, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        record.append(f'{path},sha256={digest},{len(data)}')
    record.append('capsule_probe-1.0.dist-info/RECORD,,')
    z.writestr('capsule_probe-1.0.dist-info/RECORD', '\n'.join(record) + '\n')
sha = hashlib.sha256(open(name, 'rb').read()).hexdigest()
os.makedirs('simple/capsule-probe')
open('simple/index.html', 'w').write('<a href="capsule-probe/">capsule-probe</a>')
open('simple/capsule-probe/index.html', 'w').write(f'<a href="/{name}#sha256={sha}">{name}</a>')
json.dump({'name': 'capsule-probe', 'dist-tags': {'latest': '1.2.3'}, 'versions': {'1.2.3': {'name': 'capsule-probe', 'version': '1.2.3',
    'dist': {'tarball': 'https://up-https:8443/capsule-probe-1.2.3.tgz'}}}}, open('capsule-probe', 'w'))
PY`;

export const clientPy = readFileSync(join(projectRoot, 'test', 'fixtures', 'egress', 'client.py'), 'utf8');

export interface Upstreams {
  lab: EgressLab;
  allowedIp: string;
  deniedIp: string;
  /** A file holding the test CA (CAPSULE_EGRESS_UPSTREAM_CA). */
  caFile: string;
}

/** Create the outside network, the test CA and both upstreams. */
export async function startUpstreams(): Promise<Upstreams> {
  const lab = new EgressLab();
  await lab.create(['up-https', 'sec-https', 'denied-host']);
  await lab.startUpstream('allowed', ['up-http', 'up-https', 'sec-http', 'sec-https'], PACKAGE_INDEX);
  await lab.startUpstream('denied', ['denied-host'], PACKAGE_INDEX);
  const caFile = join(mkdtempSync(join(tmpdir(), 'capsule-egress-ca-')), 'upstream-ca.pem');
  writeFileSync(caFile, lab.pki.caPem);
  return { lab, caFile, allowedIp: await lab.ipOf(`egt-${lab.id}-allowed`, lab.outside), deniedIp: await lab.ipOf(`egt-${lab.id}-denied`, lab.outside) };
}

/** The shipped default profile's limits as YAML, with `extra` (egress profiles take no pool). */
export function profileYaml(description: string, extra: string): string {
  const base = readFileSync(join(projectRoot, 'sandbox-profiles', 'default.yaml'), 'utf8').replace(/^pool:\n(?: .*\n?)+/m, '').replace(/^description:.*$/m, `description: ${JSON.stringify(description)}`);
  return `${base}\n${extra}\n`;
}

/** Containers, networks and volumes a server instance left on the engine (by its instance label). */
export async function leftBy(instance: string): Promise<string[]> {
  const filter = ['--filter', `label=capsule.instance=${instance}`];
  const found = await Promise.all([docker(['ps', '-aq', ...filter]), docker(['network', 'ls', '-q', ...filter]), docker(['volume', 'ls', '-q', ...filter])]);
  return found.flatMap((r, i) => r.stdout.split('\n').filter(Boolean).map((id) => `${['container', 'network', 'volume'][i]} ${id}`));
}
