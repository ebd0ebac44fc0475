import { ConfigurationError } from '../errors.js';
import type { AllowRule, EgressSpec, HostPattern } from './egress-schema.js';

/**
 * The egress proxy's configuration, generated from the `egress:` specs of every egress profile
 * (pure: no Docker, no I/O). The result is a set of files for the proxy's state volume
 * (images/egress-proxy/entrypoint.sh says where each goes):
 *   config/squid.conf    allowlists, per-profile ACLs keyed by the authenticated run user, routing
 *   config/policy.json   per profile: methods and secret hosts, for the intercepting leg
 *   config/secrets.json  per profile: secret values (the only file holding them; mode 0600)
 *   config/upstream-ca.pem  optional extra roots the intercepting leg trusts upstream
 * Runs are registered separately (run-registration.ts), without touching these files.
 */

export const PROXY_PORT = 3128;
const INTERCEPT_PORT = 3129;
export const STATE_DIR = '/var/lib/capsule-egress';
export const PUBLIC_DIR = '/var/lib/capsule-egress-public';

/** Never reached through the proxy: its own loopback, link-local (cloud metadata), "this network". */
const ALWAYS_BLOCKED = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '::1', 'fe80::/10'];

export interface EgressProfileInput {
  name: string;
  egress: EgressSpec;
}

export interface ProxyConfigInput {
  profiles: EgressProfileInput[];
  /** Resolved secret values, profile name -> secret name -> value (see resolveSecretValues). */
  secretValues: Record<string, Record<string, string>>;
  /** More CIDRs the proxy must never connect to, e.g. the sandboxes' internal networks. */
  denyDestinations?: string[];
  /** PEM roots the intercepting leg trusts for upstream servers besides the system ones. */
  upstreamCaPem?: string;
}

export interface ProxyConfig {
  /** Path relative to the state volume -> content. */
  files: Record<string, string>;
  /** Files that hold secrets: write them mode 0600, never log them. */
  secretFiles: string[];
}

/** Build every config file the proxy needs for these profiles. */
export function buildProxyConfig(input: ProxyConfigInput): ProxyConfig {
  const names = new Set<string>();
  for (const p of input.profiles) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(p.name)) throw new ConfigurationError(`egress profile name "${p.name}" must match [a-z0-9][a-z0-9_-]*`);
    if (names.has(p.name)) throw new ConfigurationError(`egress profile ${p.name} is listed twice`);
    names.add(p.name);
  }
  for (const cidr of input.denyDestinations ?? []) {
    if (!/^[0-9a-fA-F.:]+(\/[0-9]{1,3})?$/.test(cidr)) throw new ConfigurationError(`denyDestinations: "${cidr}" is not an address or CIDR`);
  }
  const files: Record<string, string> = {
    'config/squid.conf': squidConf(input),
    'config/policy.json': `${JSON.stringify(policyJson(input.profiles), null, 2)}\n`,
    'config/secrets.json': `${JSON.stringify(secretsJson(input), null, 2)}\n`,
  };
  if (input.upstreamCaPem) files['config/upstream-ca.pem'] = input.upstreamCaPem;
  return { files, secretFiles: ['config/secrets.json'] };
}

/**
 * The real values of every profile's secrets, read where each secret says (from_env or from_file).
 * A missing or empty source stops start-up with the profile and key named; values are never logged.
 */
export function resolveSecretValues(
  profiles: EgressProfileInput[],
  env: Record<string, string | undefined>,
  readFile: (path: string) => string,
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const { name, egress } of profiles) {
    const values: Record<string, string> = {};
    out[name] = values;
    egress.secrets.forEach((secret, i) => {
      const key = `profile ${name}: egress.secrets.${i}`;
      let value: string | undefined;
      if (secret.from_env !== undefined) {
        value = env[secret.from_env];
        if (!value) throw new ConfigurationError(`${key}.from_env: ${secret.from_env} is not set (secret ${secret.name})`);
      } else {
        try {
          value = readFile(secret.from_file as string).replace(/\r?\n$/, '');
        } catch (err) {
          throw new ConfigurationError(`${key}.from_file: cannot read ${secret.from_file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        }
        if (!value) throw new ConfigurationError(`${key}.from_file: ${secret.from_file} is empty (secret ${secret.name})`);
      }
      if (/[\r\n\0]/.test(value)) throw new ConfigurationError(`${key}: the value of ${secret.name} holds a line break or NUL, which cannot go in a header`);
      values[secret.name] = value;
    });
  }
  return out;
}

/** True when the profile's HTTPS is intercepted entirely: its method limit cannot hold on a splice. */
export function interceptsAll(spec: EgressSpec): boolean {
  return spec.methods !== undefined;
}

function policyJson(profiles: EgressProfileInput[]) {
  const out: Record<string, unknown> = {};
  for (const { name, egress } of profiles) {
    out[name] = {
      methods: egress.methods ?? null,
      intercept_all: interceptsAll(egress),
      secrets: egress.secrets.map((s) => ({ name: s.name, hosts: s.hosts.map(patternText) })),
    };
  }
  return { version: 1, profiles: out };
}

function secretsJson(input: ProxyConfigInput) {
  const out: Record<string, Record<string, string>> = {};
  for (const { name, egress } of input.profiles) {
    const values: Record<string, string> = {};
    out[name] = values;
    for (const s of egress.secrets) {
      const value = input.secretValues[name]?.[s.name];
      if (value === undefined) throw new ConfigurationError(`profile ${name}: no value resolved for secret ${s.name}`);
      values[s.name] = value;
    }
  }
  return { version: 1, profiles: out };
}

function patternText(p: HostPattern): string {
  return p.wildcard ? `*.${p.host}` : p.host;
}

const regexEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

/** A squid ACL line matching a host pattern, by name only (-n: never a reverse DNS lookup). */
function hostAcl(aclName: string, p: HostPattern): string {
  return p.wildcard ? `acl ${aclName} dstdom_regex -n -i \\.${regexEscape(p.host)}$` : `acl ${aclName} dstdomain -n ${p.host}`;
}

function profileSection({ name, egress }: EgressProfileInput): { acls: string[]; access: string[] } {
  const id = `p_${name.replace(/-/g, '_')}`;
  const acls = [`# profile ${name}`, `acl ${id} proxy_auth_regex \\.${regexEscape(name)}$`];
  const rules = egress.allow.map((rule: AllowRule, i: number) => {
    acls.push(hostAcl(`${id}_r${i}_host`, rule), `acl ${id}_r${i}_port port ${rule.ports.join(' ')}`);
    acls.push(`acl ${id}_r${i} all-of ${id}_r${i}_host ${id}_r${i}_port`);
    return `${id}_r${i}`;
  });
  acls.push(`acl ${id}_dest any-of ${rules.join(' ')}`);
  const access: string[] = [`# profile ${name}`];
  if (egress.methods) {
    acls.push(`acl ${id}_methods method ${egress.methods.join(' ')}`);
    access.push(`http_access deny ${id} !CONNECT !${id}_methods deny_method`);
  }
  access.push(`http_access deny ${id} ${id}_dest blocked_dst deny_destination`);
  const secretHosts = egress.secrets.flatMap((s) => s.hosts);
  if (secretHosts.length > 0) {
    secretHosts.forEach((h, i) => acls.push(hostAcl(`${id}_s${i}`, h)));
    const list = secretHosts.map((_, i) => `${id}_s${i}`).join(' ');
    acls.push(`acl ${id}_secret any-of ${list}`);
    access.push(`http_access allow ${id} ${id}_dest ${id}_secret allow_intercept`);
  }
  if (interceptsAll(egress)) access.push(`http_access allow ${id} CONNECT ${id}_dest allow_intercept`);
  access.push(`http_access allow ${id} ${id}_dest allow_direct`);
  return { acls, access };
}

// One JSON object per line, every value a string (squid prints "-" for a missing number). Squid
// escapes quotes; a user name cannot hold ':' (Basic credentials split there), so a client cannot
// forge a key; on 407 lines the user is only what the client claimed (the parser ignores it).
const LOG_FORMAT = [
  '{"source":"squid","ts":"%ts.%03tu","user":"%ul","client":"%>a","method":"%rm","host":"%>rd","port":"%>rP"',
  ',"status":"%>Hs","bytes_out":"%<st","bytes_in":"%>st","duration_ms":"%tr","squid":"%Ss","hier":"%Sh"',
  ',"decision":"%{decision}note","reason":"%{reason}note","route":"%{route}note"}',
].join('');

// Squid as a forwarding-only proxy: no cache, no version or host name in replies, logs as JSON lines.
const BASE = [
  `http_port ${PROXY_PORT}`,
  'pid_filename none',
  'pinger_enable off',
  'cache deny all',
  'cache_mem 0 MB',
  'coredump_dir none',
  'logfile_rotate 0',
  'cache_log stdio:/dev/stderr',
  'shutdown_lifetime 1 seconds',
  'via off',
  'forwarded_for delete',
  'httpd_suppress_version_string on',
  'visible_hostname capsule-egress',
  'reply_header_access X-Cache deny all',
  'reply_header_access X-Cache-Lookup deny all',
  // Host names in URLs and CONNECT must be names (no quotes or spaces reach the JSON log).
  'check_hostnames on',
  // Each sandbox has its own address: one run cannot take every descriptor of the shared proxy.
  'client_ip_max_connections 256',
  // A reused upstream connection stalls ~45 ms per request (delayed ACK against a server that writes
  // headers and body in two segments, python's http.server for one): 46.9 -> 1.5 ms p50 per request
  // without, same throughput. Costs one TCP handshake per plain-HTTP request; CONNECT is unaffected.
  'server_persistent_connections off',
  `logformat capsule ${LOG_FORMAT}`,
  'acl capsule_health_src src 127.0.0.1/32',
  'acl capsule_health_dst dstdomain -n health.invalid',
  'acl capsule_health all-of capsule_health_src capsule_health_dst',
  'access_log stdio:/dev/stdout logformat=capsule !capsule_health',
];

// Run credentials, checked by auth_helper.py against registry/runs.json.
const AUTH = [
  `auth_param basic program /usr/bin/python3 /opt/capsule-egress/auth_helper.py ${STATE_DIR}/registry/runs.json`,
  'auth_param basic children 4 startup=1 idle=1 concurrency=64',
  'auth_param basic realm capsule-egress',
  'auth_param basic casesensitive on',
  // A finished run's credentials stop working within 5 s of its removal from the registry.
  'auth_param basic credentialsttl 5 seconds',
  'authenticate_ttl 5 seconds',
  'authenticate_ip_ttl 0 seconds',
];

// The decision of every rule is written into the transaction (annotate_transaction) for the log.
const COMMON_ACLS = [
  'acl authenticated proxy_auth REQUIRED',
  'acl CONNECT method CONNECT',
  'acl allow_direct annotate_transaction decision=allowed route=direct',
  'acl allow_intercept annotate_transaction decision=allowed route=intercept',
  'acl deny_method annotate_transaction decision=denied reason=method',
  'acl deny_destination annotate_transaction decision=denied reason=destination',
  'acl deny_not_allowed annotate_transaction decision=denied reason=not_allowed',
  'acl route_intercept note route intercept',
];

// Requests a rule marked route=intercept go to mitmdump, and only those.
const ROUTING = [
  `cache_peer 127.0.0.1 parent ${INTERCEPT_PORT} 0 no-query no-digest no-netdb-exchange login=*:capsule name=intercept`,
  'cache_peer_access intercept allow route_intercept',
  'cache_peer_access intercept deny all',
  'never_direct allow route_intercept',
  'always_direct allow !route_intercept',
];

function squidConf(input: ProxyConfigInput): string {
  const sections = input.profiles.map(profileSection);
  const blocked = [...ALWAYS_BLOCKED, ...(input.denyDestinations ?? [])];
  return [
    HEADER,
    ...BASE,
    '',
    ...AUTH,
    '',
    ...COMMON_ACLS,
    `acl blocked_dst dst ${blocked.join(' ')}`,
    ...sections.flatMap((s) => s.acls),
    '',
    // Every request must carry a registered run's credentials; the rest is per profile. A name is
    // resolved (the blocked_dst check) only once it matched an allowlist, so a denied name never
    // leaves the proxy, not even as a DNS query.
    'http_access deny !authenticated',
    ...sections.flatMap((s) => s.access),
    'http_access deny all deny_not_allowed',
    '',
    ...ROUTING,
    '',
  ].join('\n');
}

const HEADER = `# Generated by server/egress/proxy-config.ts; do not edit (the Capsule server rewrites it).
#
# Why squid in front, and mitmproxy only behind it for secret hosts (bench/egress.ts, 7 rounds,
# 2 shared cores, local upstreams; MB/s is noisy here, CPU per byte and latency are steadier):
#                                   100 MB MB/s   proxy CPU ms/100 MB   new-connection p50
#   HTTPS  plain bridge (no proxy)      284               -                  29.3 ms
#          squid splice                 295             167                  30.4 ms
#          mitmproxy alone, passthrough 350             216                  35.9 ms
#          squid -> mitmproxy intercept 172             653                  42.4 ms
#   HTTP   plain bridge (no proxy)      955               -                   1.0 ms
#          squid                        260             365                   1.3 ms
#          mitmproxy alone              400             246                   3.8 ms
# Almost all package and API traffic is HTTPS: squid splices it with less CPU and adds ~1 ms per
# connection where mitmproxy adds ~7, and its host/port/method/auth ACLs and JSON log are
# configuration, not policy code in a Python event loop that every run shares. Squid cannot replace a
# substring of a header value, so the requests that need a secret (and the HTTPS of profiles with a
# method limit, which a splice would hide) go to mitmdump on 127.0.0.1:${INTERCEPT_PORT}; plain HTTP,
# where mitmproxy alone would be faster, still runs at 2 Gbit/s and rarely carries packages.
`;
