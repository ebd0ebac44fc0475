/**
 * A throwaway certificate authority for engines reached over TCP on loopback (never plain TCP: whoever
 * reaches a Docker API port without TLS is root on the host). Made with openssl in a temp folder that
 * the caller deletes (test/helpers/engines.ts does, on every path). P-256 keys: a whole set for three
 * engines takes ~0.2 s here, RSA-2048 ~1.5 s.
 *
 *   <dir>/ca.pem, ca-key.pem                 the CA (valid 2 days)
 *   <dir>/server/<name>/{cert,key}.pem        an engine's server certificate, SAN IP:<its address>
 *   <dir>/client/<name>/{ca,cert,key}.pem     a DOCKER_CERT_PATH folder for talking to that engine
 *   <dir>/proxy/{ca,server}.pem               one bundle (certificate then key) whose SANs are every
 *                                             address: what a Swarm secret gives each node's proxy
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsEndpoint {
  name: string;
  /** Loopback IPv4 address the engine listens on. */
  address: string;
}

export interface TestPki {
  readonly dir: string;
  readonly caPem: string;
  /** dockerd's --tlscacert/--tlscert/--tlskey for `name`. */
  serverFiles(name: string): { ca: string; cert: string; key: string };
  /** A folder as DOCKER_CERT_PATH expects (ca.pem, cert.pem, key.pem) for a client of `name`. */
  clientCertPath(name: string): string;
  /** The proxy's folder: ca.pem and server.pem (certificate + key, SANs: every address). */
  readonly proxyDir: string;
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args);
}

/** Issue a certificate signed by the CA in `dir` (extensions as openssl -extfile lines). */
async function issue(dir: string, out: string, subject: string, extensions: string[]): Promise<void> {
  mkdirSync(out, { recursive: true });
  const csr = join(out, 'req.csr');
  const ext = join(out, 'ext.cnf');
  writeFileSync(ext, `${extensions.join('\n')}\n`);
  await openssl(['req', ...KEY, '-keyout', join(out, 'key.pem'), '-out', csr, '-subj', subject]);
  await openssl(['x509', '-req', '-in', csr, '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca-key.pem'), '-CAcreateserial',
    '-days', '2', '-out', join(out, 'cert.pem'), '-extfile', ext]);
}

const SERVER_EXT = ['keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth'];
const CLIENT_EXT = ['keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];

/** Make a CA and, for each endpoint, a server certificate and a client cert folder; plus the proxy bundle. */
export async function makeTestPki(dir: string, endpoints: TlsEndpoint[]): Promise<TestPki> {
  for (const { address } of endpoints) {
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)) throw new Error(`${address} is not a loopback IPv4 address`);
  }
  mkdirSync(dir, { recursive: true });
  await openssl(['req', '-x509', ...KEY, '-keyout', join(dir, 'ca-key.pem'), '-out', join(dir, 'ca.pem'), '-days', '2', '-subj', '/CN=capsule-test-ca']);
  const caPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
  // Sequential: openssl's -CAcreateserial writes one serial file next to the CA.
  for (const { name, address } of endpoints) {
    await issue(dir, join(dir, 'server', name), `/CN=${name}`, [...SERVER_EXT, `subjectAltName=IP:${address}`]);
    const client = join(dir, 'client', name);
    await issue(dir, client, `/CN=capsule-client-${name}`, CLIENT_EXT);
    writeFileSync(join(client, 'ca.pem'), caPem);
  }
  const proxyDir = join(dir, 'proxy');
  await issue(dir, proxyDir, '/CN=capsule-docker-proxy', [...SERVER_EXT, `subjectAltName=${endpoints.map((e) => `IP:${e.address}`).join(',')}`]);
  writeFileSync(join(proxyDir, 'server.pem'), readFileSync(join(proxyDir, 'cert.pem'), 'utf8') + readFileSync(join(proxyDir, 'key.pem'), 'utf8'));
  writeFileSync(join(proxyDir, 'ca.pem'), caPem);
  return {
    dir,
    caPem,
    proxyDir,
    serverFiles: (name) => ({ ca: join(dir, 'ca.pem'), cert: join(dir, 'server', name, 'cert.pem'), key: join(dir, 'server', name, 'key.pem') }),
    clientCertPath: (name) => join(dir, 'client', name),
  };
}
