import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import type { ProxyConfig } from '../../server/egress/proxy-config.js';
import { PUBLIC_DIR, STATE_DIR } from '../../server/egress/proxy-config.js';
import { SANDBOX_CA_DIR } from '../../server/egress/run-registration.js';
import { projectRoot, DEFAULT_EGRESS_IMAGE, DEFAULT_SANDBOX_IMAGE } from '../../server/version.js';

/**
 * A small world for egress tests and benchmarks, built with the docker CLI and removed by label:
 * an internal network (the proxy and sandboxes), an "outside" network (the proxy and local
 * upstreams, reached by name), upstream containers of the sandbox image, and the egress proxy with
 * its state and public volumes. Nothing here talks to any address outside these containers.
 */

export const EGRESS_IMAGE = DEFAULT_EGRESS_IMAGE;
const FIXTURES = join(projectRoot, 'test', 'fixtures', 'egress');
const PROXY_UID = 10003;

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the docker CLI (never a shell); `input` goes to stdin. Rejects on a non-zero exit unless allowFail. */
export function docker(args: string[], opts: { input?: string | Buffer; allowFail?: boolean; timeoutMs?: number } = {}): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const r = { code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (r.code !== 0 && !opts.allowFail) reject(new Error(`docker ${args.slice(0, 3).join(' ')}… exited ${r.code}: ${r.stderr.trim()}`));
      else resolve(r);
    });
    // A command that exits before reading its stdin must not crash the test process with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** A tar archive of files (path -> content) owned by uid/gid, for `docker cp -`. */
export function tarOf(files: Record<string, string | Buffer>, uid = 0, mode = (_path: string) => 0o644): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
  const dirs = new Set<string>();
  for (const path of Object.keys(files)) {
    const parts = path.split('/').slice(0, -1);
    parts.forEach((_, i) => dirs.add(parts.slice(0, i + 1).join('/')));
  }
  for (const d of [...dirs].sort()) p.entry({ name: `${d}/`, type: 'directory', mode: 0o755, uid, gid: uid });
  for (const [name, content] of Object.entries(files)) p.entry({ name, mode: mode(name), uid, gid: uid }, content);
  p.finalize();
  return done;
}

export interface TestPki {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A throw-away CA and one server certificate for `names`, made with openssl inside a container. */
export async function makeTestPki(label: string, names: string[]): Promise<TestPki> {
  const san = names.map((n) => `DNS:${n}`).join(',');
  const script = [
    'set -e; cd /tmp',
    'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=capsule egress test CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -keyout ca.key -out ca.pem 2>/dev/null',
    'openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=upstream" -keyout srv.key -out srv.csr 2>/dev/null',
    `printf "subjectAltName=${san}\\nextendedKeyUsage=serverAuth\\n" > ext`,
    'openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out srv.pem 2>/dev/null',
    'cat ca.pem; echo @@split@@; cat srv.pem; echo @@split@@; cat srv.key',
  ].join('\n');
  const r = await docker(['run', '--rm', '--label', label, '--network', 'none', '--user', '10001:10001', '--tmpfs', '/tmp', DEFAULT_SANDBOX_IMAGE, 'sh', '-c', script]);
  const [caPem, certPem, keyPem] = r.stdout.split('@@split@@\n').map((s) => s.trim() + '\n');
  return { caPem: caPem as string, certPem: certPem as string, keyPem: keyPem as string };
}

export interface SandboxOptions {
  env?: Record<string, string>;
  input?: string;
  image?: string;
  entrypoint?: string;
  network?: string;
}

export class EgressLab {
  readonly id = randomBytes(4).toString('hex');
  readonly label = `capsule.test=egress-${this.id}`;
  readonly internal = `egt-${this.id}-in`;
  readonly outside = `egt-${this.id}-out`;
  readonly proxy = `egt-${this.id}-proxy`;
  readonly stateVolume = `egt-${this.id}-state`;
  readonly publicVolume = `egt-${this.id}-public`;
  pki!: TestPki;

  /** Create both networks and the test PKI (after removing labs a killed test process left behind). */
  async create(upstreamNames: string[]): Promise<void> {
    await sweepStaleLabs();
    await docker(['network', 'create', '--label', this.label, '--internal', this.internal]);
    await docker(['network', 'create', '--label', this.label, this.outside]);
    this.pki = await makeTestPki(this.label, upstreamNames);
  }

  /** An upstream on the outside network: plain HTTP on 8000 and TLS on 8443, under these aliases. */
  async startUpstream(name: string, aliases: string[], setup = ''): Promise<void> {
    const container = `egt-${this.id}-${name}`;
    const aliasArgs = aliases.flatMap((a) => ['--network-alias', a]);
    const script = [
      'set -e; mkdir -p /tmp/www; cd /tmp/www; printf hello > hello.txt',
      setup,
      'python3 /srv/upstream.py /tmp/www 8000 & exec python3 /srv/upstream.py /tmp/www 8443 /srv/cert.pem /srv/key.pem',
    ].join('\n');
    await docker(['create', '--label', this.label, '--name', container, '--network', this.outside, ...aliasArgs,
      '--user', '10001:10001', '--tmpfs', '/tmp:size=256m', DEFAULT_SANDBOX_IMAGE, 'sh', '-c', script]);
    const files = await tarOf({
      'srv/upstream.py': readFileSync(join(FIXTURES, 'upstream.py')),
      'srv/cert.pem': this.pki.certPem,
      'srv/key.pem': this.pki.keyPem,
    }, 10001);
    await docker(['cp', '-', `${container}:/`], { input: files });
    await docker(['start', container]);
    await this.waitFor(container, 'python3 -c "import socket; [socket.create_connection((\'127.0.0.1\', p), 1).close() for p in (8000, 8443)]"');
  }

  /** Create the proxy (state + public volumes, both networks), write its config, start it, wait until healthy. */
  async startProxy(config: ProxyConfig, registry: string): Promise<void> {
    for (const v of [this.stateVolume, this.publicVolume]) await docker(['volume', 'create', '--label', this.label, v]);
    await docker(['create', '--label', this.label, '--name', this.proxy, '--network', this.outside,
      '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '-v', `${this.stateVolume}:${STATE_DIR}`, '-v', `${this.publicVolume}:${PUBLIC_DIR}`,
      '--restart', 'no', EGRESS_IMAGE]);
    await this.writeState({ ...config.files, 'registry/runs.json': registry }, config.secretFiles);
    await docker(['network', 'connect', this.internal, this.proxy]);
    await docker(['start', this.proxy]);
    await this.waitHealthy();
  }

  /** Write files into the proxy's state volume, owned by the proxy user (secret files 0600). */
  async writeState(files: Record<string, string>, secretFiles: string[] = []): Promise<void> {
    const tar = await tarOf(files, PROXY_UID, (p) => (secretFiles.includes(p) ? 0o600 : 0o644));
    await docker(['cp', '-', `${this.proxy}:${STATE_DIR}`], { input: tar });
  }

  async waitHealthy(ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      const r = await docker(['inspect', '-f', '{{.State.Status}} {{.State.Health.Status}}', this.proxy]);
      if (r.stdout.trim() === 'running healthy') return;
      if (Date.now() > end) throw new Error(`proxy not healthy: ${r.stdout.trim()}\n${(await this.proxyLogs()).stderr.slice(-2000)}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  private async waitFor(container: string, check: string, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while ((await docker(['exec', container, 'sh', '-c', check], { allowFail: true })).code !== 0) {
      if (Date.now() > end) {
        const logs = await docker(['logs', '--tail', '20', container], { allowFail: true });
        throw new Error(`${container} did not come up: ${logs.stdout}${logs.stderr}`);
      }
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  async ipOf(container: string, network: string): Promise<string> {
    const r = await docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container]);
    return r.stdout.trim();
  }

  /** The proxy's address on the internal network: what sandboxes are given. */
  proxyIp(): Promise<string> {
    return this.ipOf(this.proxy, this.internal);
  }

  async proxyLogs(): Promise<DockerResult> {
    return docker(['logs', this.proxy]);
  }

  /** A sandbox with Capsule's lockdown on the internal network only, the public CA volume mounted read-only. */
  async sandbox(args: string[], opts: SandboxOptions = {}): Promise<DockerResult> {
    const envArgs = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    return docker(['run', '--rm', '-i', '--label', this.label, '--network', opts.network ?? this.internal,
      '--user', '10001:10001', '--cap-drop', 'ALL', '--read-only', '--security-opt', 'no-new-privileges', '--tmpfs', '/tmp',
      // On an internal network the engine's resolver never answers outside names: a lookup hangs 20 s
      // with the default resolv.conf options, 2 s with these.
      '--dns-opt', 'timeout:1', '--dns-opt', 'attempts:1',
      '-v', `${this.publicVolume}:${SANDBOX_CA_DIR}:ro`, ...envArgs,
      ...(opts.entrypoint ? ['--entrypoint', opts.entrypoint] : []), opts.image ?? DEFAULT_SANDBOX_IMAGE, ...args],
    { input: opts.input, allowFail: true, timeoutMs: 90_000 });
  }

  /** Remove everything labelled for this lab; returns what is still there afterwards (should be nothing). */
  cleanup(): Promise<string[]> {
    return removeLabelled(this.label);
  }
}

/** Remove the containers, networks and volumes with this label; returns what is left. */
async function removeLabelled(label: string): Promise<string[]> {
  const filter = ['--filter', `label=${label}`];
  const containers = (await docker(['ps', '-aq', ...filter])).stdout.split('\n').filter(Boolean);
  if (containers.length) await docker(['rm', '-f', '-v', ...containers], { allowFail: true });
  const networks = (await docker(['network', 'ls', '-q', ...filter])).stdout.split('\n').filter(Boolean);
  if (networks.length) await docker(['network', 'rm', ...networks], { allowFail: true });
  const volumes = (await docker(['volume', 'ls', '-q', ...filter])).stdout.split('\n').filter(Boolean);
  if (volumes.length) await docker(['volume', 'rm', '-f', ...volumes], { allowFail: true });
  const left = await Promise.all([
    docker(['ps', '-aq', ...filter]), docker(['network', 'ls', '-q', ...filter]), docker(['volume', 'ls', '-q', ...filter]),
  ]);
  return left.flatMap((r) => r.stdout.split('\n').filter(Boolean));
}

/** Remove egress labs older than an hour: only a killed test process leaves one (cleanup is in finally hooks). */
async function sweepStaleLabs(): Promise<void> {
  const r = await docker(['ps', '-a', '--filter', 'label=capsule.test', '--format', '{{.Label "capsule.test"}} {{.CreatedAt}}']);
  const stale = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    // "egress-1a2b3c4d 2026-12-02 00:03:57 +0000 UTC"
    const [label, day, time, offset] = line.split(' ');
    const at = Date.parse(`${day}T${time}${offset?.slice(0, 3)}:${offset?.slice(3)}`);
    if (label?.startsWith('egress-') && Number.isFinite(at) && Date.now() - at > 3_600_000) stale.add(label);
  }
  for (const label of stale) await removeLabelled(`capsule.test=${label}`);
}
