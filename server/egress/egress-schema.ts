import { z } from 'zod';
import { ConfigurationError } from '../errors.js';

/**
 * The `egress:` key of a sandbox profile: which names and ports a sandbox may reach through the
 * egress proxy, with which methods, and which operator-held secrets the proxy substitutes for which
 * hosts. Strict like the rest of a profile: an unknown key, a pattern that is not a host name, or a
 * secret without exactly one source is an error naming the key.
 */

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A DNS label; '_' is accepted because Docker container names and aliases may hold it.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const DEFAULT_PORTS = [80, 443] as const;

/** Methods a profile may limit requests to. CONNECT is implied by HTTPS and never listed. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** A parsed host pattern: an exact name, or `*.suffix` (subdomains of suffix, not suffix itself). */
export interface HostPattern {
  /** Lower-case name, or the suffix without `*.` when wildcard. */
  host: string;
  wildcard: boolean;
}

/** One allowlist entry: a host pattern and the ports it opens (80 and 443 when none is given). */
export interface AllowRule extends HostPattern {
  ports: number[];
  /** The entry as written, for messages. */
  source: string;
}

/** Why `text` is not a host pattern, or null when it is one. */
export function hostPatternProblem(text: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return 'is a URL; write the host name alone (pkg.example, *.example.org)';
  if (text.includes('/')) return 'holds a path; write the host name alone';
  if (text.startsWith('[') || /^[0-9.]+$/.test(text) || text.split(':').length > 2) {
    return 'is an IP address; write a name (names resolve only at the proxy)';
  }
  const name = text.startsWith('*.') ? text.slice(2) : text;
  if (name.length === 0 || name.length > 253) return 'is not a host name';
  if (name.includes('*')) return 'may hold * only as a leading "*." (a wildcard over subdomains)';
  if (name.endsWith('.')) return 'ends with a dot';
  const labels = name.toLowerCase().split('.');
  if (labels.some((l) => !LABEL.test(l))) return 'is not a host name (labels of letters, digits, - and _)';
  if (text.startsWith('*.') && labels.length < 2) return 'is a wildcard over a whole top-level name; name a domain (*.example.org)';
  return null;
}

/** Parse `host`, `*.suffix`, `host:port` or `*.suffix:port`; throws on anything else. */
export function parseAllowEntry(text: string): AllowRule {
  const match = /^(.*?)(?::([0-9]{1,5}))?$/.exec(text);
  const hostPart = match?.[1] ?? text;
  const problem = hostPatternProblem(hostPart);
  if (problem) throw new Error(`"${text}" ${problem}`);
  const port = match?.[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`"${text}": port must be 1-65535`);
  return { ...toPattern(hostPart), ports: port === undefined ? [...DEFAULT_PORTS] : [port], source: text };
}

function toPattern(text: string): HostPattern {
  const wildcard = text.startsWith('*.');
  return { host: (wildcard ? text.slice(2) : text).toLowerCase(), wildcard };
}

/** True when `host` (a name, lower case) matches the pattern. */
export function hostMatches(pattern: HostPattern, host: string): boolean {
  return pattern.wildcard ? host.endsWith(`.${pattern.host}`) : host === pattern.host;
}

/** True when every host `inner` can match is also matched by `outer`. */
export function patternCovers(outer: HostPattern, inner: HostPattern): boolean {
  if (!outer.wildcard) return !inner.wildcard && inner.host === outer.host;
  return inner.host.endsWith(`.${outer.host}`) || (inner.wildcard && inner.host === outer.host);
}

const allowEntry = z.string().transform((text, ctx) => {
  try {
    return parseAllowEntry(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const secretHost = z.string().transform((text, ctx) => {
  const problem = hostPatternProblem(text);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: `"${text}" ${problem} (secret hosts take no port)` });
    return z.NEVER;
  }
  return toPattern(text);
});

const secretSchema = z
  .strictObject({
    name: z.string().regex(ENV_NAME, 'must be an env name ([A-Za-z_][A-Za-z0-9_]*)'),
    from_env: z.string().regex(ENV_NAME, 'must be an env name').optional(),
    from_file: z.string().regex(/^\//, 'must be an absolute path').optional(),
    hosts: z.array(secretHost).min(1, 'a secret needs at least one host'),
  })
  .superRefine((s, ctx) => {
    if ((s.from_env === undefined) === (s.from_file === undefined)) {
      ctx.addIssue({ code: 'custom', message: `secret ${s.name} needs exactly one source: from_env or from_file` });
    }
  });

/** The YAML shape of `egress:`; parsed values hold AllowRule/HostPattern objects. */
export const egressSchema = z
  .strictObject({
    allow: z.array(allowEntry).min(1, 'egress.allow needs at least one host'),
    methods: z
      .array(z.enum(HTTP_METHODS, { message: `methods are ${HTTP_METHODS.join(', ')} (CONNECT is implied by HTTPS)` }))
      .min(1)
      .refine((m) => new Set(m).size === m.length, 'methods must not repeat')
      .optional(),
    secrets: z.array(secretSchema).default([]),
  })
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.secrets.forEach((secret, i) => {
      if (seen.has(secret.name)) ctx.addIssue({ code: 'custom', path: ['secrets', i, 'name'], message: `secret ${secret.name} is defined twice` });
      seen.add(secret.name);
      secret.hosts.forEach((host, j) => {
        if (!spec.allow.some((rule) => patternCovers(rule, host))) {
          ctx.addIssue({
            code: 'custom',
            path: ['secrets', i, 'hosts', j],
            message: `${host.wildcard ? '*.' : ''}${host.host} is not covered by egress.allow, so the secret could never be sent`,
          });
        }
      });
    });
  });

export type EgressSpec = z.infer<typeof egressSchema>;
export type EgressSecret = EgressSpec['secrets'][number];

/** Parse an `egress:` value; errors name the key path (egress.allow.0, egress.secrets.1.from_env); the profile loader prefixes the file. */
export function parseEgress(raw: unknown): EgressSpec {
  const parsed = egressSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(parsed.error.issues.map(describeIssue).join('; '));
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = ['egress', ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `unknown key "${at}.${k}"`).join(', ');
  return `${at}: ${issue.message}`;
}
