/**
 * Reading the egress proxy's stdout (pure): one JSON object per line, from squid (one line per
 * HTTP request or CONNECT tunnel) or from the intercepting leg (one line per request inside an
 * intercepted tunnel, plus its denials). Lines carry no header value and no secret.
 */

export interface EgressLogEvent {
  source: 'squid' | 'intercept';
  /** Seconds since the epoch, as the proxy logged it. */
  ts: number;
  /** Null when the request carried no valid run credentials. */
  runId: string | null;
  profile: string | null;
  method: string;
  host: string;
  port: number | null;
  decision: 'allowed' | 'denied';
  /** For denials: auth, not_allowed, method, destination, host_mismatch, not_http. */
  reason: string | null;
  status: number | null;
  /** Bytes sent to the sandbox. */
  bytes: number;
  /** Intercept lines: names of the secrets substituted into this request. */
  secrets: string[];
}

/** Where a run's entries past the tally's limit are counted (its port is null). */
export const OTHER_HOSTS = '(other hosts)';

export interface NetworkSummary {
  allowed: { host: string; port: number | null; requests: number }[];
  denied: { host: string; port: number | null; attempts: number }[];
}

const dash = (v: unknown): string | null => (typeof v !== 'string' || v === '-' || v === '' ? null : v);

/** One log line as an event, or null for lines that are not access records (start-up messages). */
export function parseEgressLogLine(line: string): EgressLogEvent | null {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== 'object' || (raw.source !== 'squid' && raw.source !== 'intercept')) return null;
  const statusNumber = Number(raw.status);
  const status = Number.isInteger(statusNumber) && statusNumber > 0 ? statusNumber : null;
  // A 407 line's user is whatever the client claimed, not a run: never attribute it.
  const user = status === 407 ? null : dash(raw.user);
  const dot = user?.indexOf('.') ?? -1;
  const port = Number(raw.port);
  return {
    source: raw.source,
    ts: Number(raw.ts) || 0,
    runId: user && dot > 0 ? user.slice(0, dot) : null,
    profile: user && dot > 0 ? user.slice(dot + 1) : null,
    method: dash(raw.method) ?? '-',
    host: dash(raw.host) ?? '-',
    port: Number.isInteger(port) && port > 0 ? port : null,
    decision: decisionOf(raw, status),
    reason: dash(raw.reason) ?? (status === 407 ? 'auth' : null),
    status,
    bytes: Number(raw.source === 'squid' ? raw.bytes_out : raw.bytes) || 0,
    secrets: Array.isArray(raw.secrets) ? raw.secrets.filter((s): s is string => typeof s === 'string') : [],
  };
}

function decisionOf(raw: Record<string, unknown>, status: number | null): 'allowed' | 'denied' {
  const d = dash(raw.decision);
  if (d === 'allowed' || d === 'denied') return d;
  // Squid answers a missing or wrong credential with 407 before any rule that annotates.
  return status === 407 || String(raw.squid ?? '').startsWith('TCP_DENIED') ? 'denied' : 'allowed';
}

/**
 * Per-run tallies for run results: `network: {allowed, denied}`. Squid lines count requests and
 * tunnels (a spliced tunnel is one request: the proxy cannot see inside it); intercept lines add
 * only their denials (a method refused inside an intercepted tunnel), so nothing is counted twice.
 */
export class NetworkTally {
  private readonly runs = new Map<string, { allowed: Map<string, number>; denied: Map<string, number> }>();

  /**
   * `maxEntries`: distinct host:port entries kept per run and list; later ones are counted under
   * OTHER_HOSTS, so a run that tries a million names cannot grow the server's memory or its result.
   */
  constructor(private readonly maxEntries = 100) {}

  add(event: EgressLogEvent): void {
    if (event.runId === null) return;
    if (event.source === 'intercept' && event.decision === 'allowed') return;
    let run = this.runs.get(event.runId);
    if (!run) {
      run = { allowed: new Map(), denied: new Map() };
      this.runs.set(event.runId, run);
    }
    const map = event.decision === 'allowed' ? run.allowed : run.denied;
    let key = `${event.host}\n${event.port ?? ''}`;
    if (!map.has(key) && map.size >= this.maxEntries - 1) key = `${OTHER_HOSTS}\n`;
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  /** The summary of one run (empty lists when it made no request). */
  summary(runId: string): NetworkSummary {
    const run = this.runs.get(runId);
    const split = (key: string) => {
      const [host, port] = key.split('\n');
      return { host: host as string, port: port ? Number(port) : null };
    };
    const sorted = (m: Map<string, number> | undefined) => [...(m ?? new Map<string, number>()).entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    return {
      allowed: sorted(run?.allowed).map(([k, n]) => ({ ...split(k), requests: n })),
      denied: sorted(run?.denied).map(([k, n]) => ({ ...split(k), attempts: n })),
    };
  }

  /** Forget a run once its result is written. */
  forget(runId: string): void {
    this.runs.delete(runId);
  }
}
