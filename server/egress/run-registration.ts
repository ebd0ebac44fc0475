import { createHash, randomBytes } from 'node:crypto';
import type { EgressSpec } from './egress-schema.js';
import { PROXY_PORT, PUBLIC_DIR } from './proxy-config.js';

/**
 * Per-run registration with the shared egress proxy (pure apart from the random source).
 * Each run gets proxy credentials `<run_id>.<profile>:<token>` (the run is attributed and its
 * profile's allowlist chosen by them) and one random placeholder per secret of its profile.
 * The proxy reads registry/runs.json (registryFile) whenever it changes; it holds sha256(token),
 * never the token, and placeholder -> secret name, never a secret value.
 */

export interface RunRegistration {
  runId: string;
  profile: string;
  tokenSha256: string;
  /** placeholder -> secret name */
  placeholders: Record<string, string>;
}

export interface RunEgress {
  registration: RunRegistration;
  /** The proxy user name (`<run_id>.<profile>`) and its token, for the sandbox's proxy URL only. */
  user: string;
  token: string;
  /** secret name -> placeholder: the env the sandbox sees instead of the value. */
  secretEnv: Record<string, string>;
}

/** Where a sandbox finds the proxy's CA (the public volume, mounted read-only). */
export const SANDBOX_CA_DIR = '/etc/capsule/egress';

/** Make one run's credentials and placeholders. */
export function registerRun(runId: string, profile: string, spec: EgressSpec, random: (n: number) => Buffer = randomBytes): RunEgress {
  if (!/^[A-Za-z0-9_-]+$/.test(runId)) throw new Error(`run id "${runId}" must be [A-Za-z0-9_-]+ (it is part of a proxy user name)`);
  const token = random(24).toString('base64url');
  const secretEnv: Record<string, string> = {};
  const placeholders: Record<string, string> = {};
  for (const secret of spec.secrets) {
    const placeholder = `capsule_ph_${random(16).toString('hex')}`;
    secretEnv[secret.name] = placeholder;
    placeholders[placeholder] = secret.name;
  }
  return {
    registration: { runId, profile, tokenSha256: sha256(token), placeholders },
    user: `${runId}.${profile}`,
    token,
    secretEnv,
  };
}

/** The registry file for the runs that are live now (written whole, replacing the previous one). */
export function registryFile(runs: Iterable<RunRegistration>): string {
  const out: Record<string, { profile: string; token_sha256: string; placeholders: Record<string, string> }> = {};
  for (const r of runs) out[r.runId] = { profile: r.profile, token_sha256: r.tokenSha256, placeholders: r.placeholders };
  return `${JSON.stringify({ version: 1, runs: out })}\n`;
}

export interface SandboxEgressEnvInput {
  /** The proxy's IP on the sandbox's internal network (never a name: the sandbox has no DNS). */
  proxyIp: string;
  run: RunEgress;
  /** Where the public volume is mounted in the sandbox. */
  caDir?: string;
}

/**
 * The env of an egress sandbox: proxy variables in both cases (libcurl reads only lower-case
 * http_proxy; most others read either), Node's env-proxy switch, the CA for every common client,
 * and each secret's placeholder. The token is in the proxy URLs only.
 */
export function sandboxEgressEnv({ proxyIp, run, caDir = SANDBOX_CA_DIR }: SandboxEgressEnvInput): Record<string, string> {
  const url = `http://${encodeURIComponent(run.user)}:${encodeURIComponent(run.token)}@${proxyIp}:${PROXY_PORT}`;
  const noProxy = 'localhost,127.0.0.1,::1';
  const bundle = `${caDir}/ca-bundle.crt`;
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    // Node 22.21+ fetch/http honour the proxy variables only with this switch.
    NODE_USE_ENV_PROXY: '1',
    // NODE_EXTRA_CA_CERTS adds to Node's roots; the others replace the default roots, so they get
    // the full bundle (system roots + the proxy CA).
    NODE_EXTRA_CA_CERTS: `${caDir}/ca.crt`,
    SSL_CERT_FILE: bundle,
    REQUESTS_CA_BUNDLE: bundle,
    CURL_CA_BUNDLE: bundle,
    GIT_SSL_CAINFO: bundle,
    PIP_CERT: bundle,
    NPM_CONFIG_CAFILE: bundle,
    ...run.secretEnv,
  };
}

/** The public volume's path inside the proxy (where it writes ca.crt and ca-bundle.crt). */
export const PROXY_PUBLIC_DIR = PUBLIC_DIR;

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
