import { z } from 'zod';

/** One engine of CAPSULE_ENGINES: how to reach it and the labels placement matches against. */
export interface EngineSpec {
  name: string;
  /** unix:///path or tcp://host:port. */
  endpoint: string;
  /** DOCKER_CERT_PATH of this engine (ca.pem, cert.pem, key.pem); null: the process's DOCKER_CERT_PATH, if any. */
  certPath: string | null;
  labels: Record<string, string>;
}

/** Engine names end up in volume folders and metric attributes: the charset of an instance name. */
export const ENGINE_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,127}$/;
const ENDPOINT = /^(unix:\/\/\/[^\s;,]+|tcp:\/\/[A-Za-z0-9.\-\[\]:]+:\d{1,5})$/;
/** The one key of an engine entry that is not a label. */
const CERT_KEY = 'cert_path';

/**
 * CAPSULE_ENGINES: comma-separated `name=endpoint` entries, each optionally followed by `;key=value`
 * parts: `cert_path=<folder>` (its TLS files) and any other key a placement label, e.g.
 * `a=unix:///var/run/docker-a.sock;zone=x,b=tcp://10.0.0.2:2376;cert_path=/certs/b;gpu=yes`.
 */
export function parseEngines(value: string): { engines: EngineSpec[] } | { error: string } {
  const engines: EngineSpec[] = [];
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [head, ...parts] = entry.split(';').map((p) => p.trim());
    const eq = head!.indexOf('=');
    const name = eq > 0 ? head!.slice(0, eq) : '';
    const endpoint = eq > 0 ? head!.slice(eq + 1) : '';
    if (!ENGINE_NAME.test(name)) return { error: `"${head}": an entry is name=endpoint with a name of [a-z0-9_.-] (up to 63, starting with a letter or digit)` };
    if (!ENDPOINT.test(endpoint)) return { error: `engine "${name}": "${endpoint}" is not unix:///path or tcp://host:port` };
    if (engines.some((e) => e.name === name)) return { error: `engine "${name}" is named twice` };
    const spec: EngineSpec = { name, endpoint, certPath: null, labels: {} };
    for (const part of parts.filter(Boolean)) {
      const at = part.indexOf('=');
      const key = at > 0 ? part.slice(0, at) : '';
      const v = at > 0 ? part.slice(at + 1) : '';
      if (!LABEL_KEY.test(key) || v === '') return { error: `engine "${name}": "${part}" is not key=value` };
      if (key === CERT_KEY) spec.certPath = v;
      else spec.labels[key] = v;
    }
    if (spec.certPath && !endpoint.startsWith('tcp://')) return { error: `engine "${name}": cert_path only applies to a tcp:// endpoint` };
    engines.push(spec);
  }
  if (engines.length === 0) return { error: 'names no engine (name=endpoint,...)' };
  return { engines };
}

/** The zod field of CAPSULE_ENGINES. */
export const enginesSetting = z.string().transform((value, ctx) => {
  const parsed = parseEngines(value);
  if ('error' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  }
  return parsed.engines;
});
