import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { enginesSetting } from './engines-config.js';
import { DEFAULT_EGRESS_IMAGE, DEFAULT_SANDBOX_IMAGE, projectRoot } from './version.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Every CAPSULE_* setting. Each entry's description is the one-line documentation the README repeats
 * (a unit test checks the README names every key).
 */
/** "3600", "90s", "30m", "1h", "2d" → milliseconds. */
const duration = z.string().transform((value, ctx) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 3600, 90s, 30m, 1h, 2d)` });
    return z.NEVER;
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
});

export const configSchema = z.object({
  CAPSULE_HOST: z.string().min(1).default('127.0.0.1').describe('Address the HTTP server binds to.'),
  CAPSULE_PORT: int(0, 65535).default(8080).describe('Port of the HTTP server (0 picks a free port).'),
  CAPSULE_PROFILES_DIR: z.string().min(1).default(resolve(projectRoot, 'sandbox-profiles'))
    .describe('Folder of sandbox profile YAML files.'),
  CAPSULE_SANDBOX_IMAGE: z.string().min(1).default(DEFAULT_SANDBOX_IMAGE)
    .describe('Image used by profiles that name none (default: package.json capsule.sandboxImage).'),
  CAPSULE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
    .describe('Log level of the JSON logs written to stderr.'),
  CAPSULE_MAX_COMMAND_BYTES: int(1, 16 << 20).default(64 << 10).describe('Largest accepted `command` (bytes).'),
  CAPSULE_MAX_CODE_BYTES: int(1, 64 << 20).default(1 << 20).describe('Largest accepted `code` (bytes).'),
  CAPSULE_MAX_STDIN_BYTES: int(0, 64 << 20).default(1 << 20).describe('Largest accepted `stdin` (bytes).'),
  CAPSULE_MAX_ENV_VARS: int(0, 4096).default(64).describe('Most environment variables a call may set.'),
  CAPSULE_MAX_ENV_BYTES: int(0, 16 << 20).default(32 << 10).describe('Largest total size of a call\'s env names and values (bytes).'),
  CAPSULE_MAX_ARGS: int(0, 4096).default(64).describe('Most `args` a run_code call may pass.'),
  CAPSULE_MAX_BODY_BYTES: int(1024, 256 << 20).default(4 << 20).describe('Largest HTTP request body (bytes).'),
  CAPSULE_KILL_GRACE_MS: int(0, 60_000).default(500)
    .describe('Time between SIGTERM and SIGKILL when a run is timed out or cancelled (ms).'),
  CAPSULE_SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000)
    .describe('Longest a SIGTERM shutdown waits for in-flight runs to be killed and removed (ms).'),
  CAPSULE_MAX_CONCURRENT: int(1, 1024).default(Math.max(2, availableParallelism() * 4))
    .describe('Most sandbox containers running at once (default: 4 per CPU).'),
  CAPSULE_MAX_QUEUE: int(0, 100_000).optional()
    .describe('Most calls waiting for a slot; beyond it calls get `busy` (default: 4 x CAPSULE_MAX_CONCURRENT).'),
  CAPSULE_OWNER_MAX_CONCURRENT: int(1, 1024).optional()
    .describe('Most runs one owner (token) may have running or waiting at once (default: CAPSULE_MAX_CONCURRENT + CAPSULE_MAX_QUEUE).'),
  CAPSULE_OWNER_RUNS_PER_MINUTE: int(1, 1_000_000).default(600)
    .describe('Runs one owner may start per minute (token bucket; bursts up to this many).'),
  CAPSULE_OWNER_MAX_TASKS: int(1, 100_000).default(32)
    .describe('Most unfinished MCP tasks (tool calls made with `task`) one owner may hold; beyond it the call gets `busy` with retry_after_s.'),
  CAPSULE_INSTANCE: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/).default('capsule')
    .describe('Name of this server on its engine; the reaper removes containers of this name that no live run owns. Give each server sharing an engine its own name.'),
  CAPSULE_REAP_INTERVAL_MS: int(1000, 3_600_000).default(30_000)
    .describe('How often the reaper sweeps for orphaned containers (it also sweeps at start-up).'),
  CAPSULE_ENGINES: enginesSetting.optional()
    .describe('Docker engines to spread runs over: `name=endpoint[;key=value...]`, comma-separated (unix:// or tcp://; `cert_path=<folder>` gives a tcp:// engine its TLS files, any other key is a placement label). Unset: the one engine of DOCKER_HOST.'),
  CAPSULE_ENGINE_CHECK_INTERVAL_MS: int(200, 60_000).default(1000)
    .describe('How often each engine of CAPSULE_ENGINES is probed; one that refuses the connection, or twice in a row does not answer within twice this (at least 1 s), is marked down.'),
  CAPSULE_SWARM_MANAGER: z.string().regex(/^(unix:\/\/\/\S+|tcp:\/\/[A-Za-z0-9.\-\[\]:]+:\d{1,5})$/, 'unix:///path or tcp://host:port').optional()
    .describe('A Docker Swarm manager (unix:// or tcp://, TLS as for DOCKER_HOST): its nodes labelled capsule.engine=<endpoint> are the engines (name: capsule.engine.name, else the hostname); not with CAPSULE_ENGINES.'),
  CAPSULE_SWARM_REFRESH_MS: int(500, 600_000).default(5000)
    .describe('How often the Swarm manager\'s nodes are read again (joins, leaves, drains, label changes).'),
  CAPSULE_ALLOW_NETWORK_PROFILES: z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true')
    .describe('Set to 1 to enable profiles that attach a network (otherwise listed as disabled).'),
  CAPSULE_EGRESS_NETWORK: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a Docker network name').optional()
    .describe('Docker network the egress proxy reaches the outside through; it must exist. Unset: Capsule creates `<CAPSULE_INSTANCE>-outside` (capsule-outside) and removes it at shutdown.'),
  CAPSULE_EGRESS_IMAGE: z.string().min(1).default(DEFAULT_EGRESS_IMAGE)
    .describe('Image of the egress proxy (default: package.json capsule.egressImage; build it with `images/build.sh egress-proxy`).'),
  CAPSULE_EGRESS_SUBNET: z.string()
    .regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(1[6-9]|2[0-4])$/, 'an IPv4 CIDR from /16 to /24, e.g. 10.213.0.0/16')
    .default('10.213.0.0/16')
    .describe('Private IPv4 range the internal egress network is taken from: a free /22 of it (a /22 to /24 is used whole), one per server on an engine.'),
  CAPSULE_EGRESS_UPSTREAM_CA: z.string().min(1).optional()
    .describe('PEM file of extra root certificates for upstreams (an internal CA): the intercepting proxy trusts them, and sandboxes of egress profiles get them in their trust bundle.'),
  CAPSULE_DATA_DIR: z.string().min(1).default(resolve(projectRoot, 'data'))
    .describe('Folder of the run store (capsule.db, SQLite) and artifacts.'),
  CAPSULE_RESULT_TTL: duration.default(3_600_000)
    .describe('How long finished runs and processes are kept (seconds, or 90s/30m/1h/2d); default 1h.'),
  CAPSULE_PROCESS_RETAIN_BYTES: int(1024, 1 << 30).default(4 << 20)
    .describe('Output kept per background process for read_process_output; older output is dropped and counted.'),
  CAPSULE_WORKSPACE_MAX_BYTES: int(1 << 20, 2 ** 40).default(1024 ** 3)
    .describe('Quota of one workspace in bytes (checked on every write; a run over it is reported).'),
  CAPSULE_WORKSPACE_MAX_FILES: int(1, 10_000_000).default(100_000).describe('Quota of one workspace in files and folders.'),
  CAPSULE_WORKSPACE_TTL: duration.default(86_400_000).describe('Default lifetime of a workspace (create_workspace ttl_s overrides, up to the max).'),
  CAPSULE_WORKSPACE_MAX_TTL: duration.default(7 * 86_400_000).describe('Longest lifetime a workspace may ask for.'),
  CAPSULE_MAX_WORKSPACES_PER_OWNER: int(1, 10_000).default(20).describe('Most workspaces one owner may hold.'),
  CAPSULE_VOLUME_ROOT: z.string().regex(/^\/[A-Za-z0-9._/-]*$/, 'an absolute path of letters, digits and ._-/').refine((p) => !p.split('/').includes('..'), 'no ".." components')
    .default('/var/lib/capsule/volumes')
    .describe('Path on the engine host of the btrfs filesystem (simple quotas) whose subvolumes hold workspaces and run scratch volumes (scripts/provision-volume-root.sh makes it).'),
  CAPSULE_REQUIRE_DISK_QUOTA: z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true')
    .describe('Set to 1 to refuse to start, and to create volumes, when disk quotas are not enforced (tests and CI use 1).'),
  CAPSULE_COLLECT_MAX_BYTES: int(0, 64 << 20).default(1 << 20).describe('Most bytes of files a run returns through `collect` (embedded in the result).'),
  CAPSULE_ARTIFACT_MAX_BYTES: int(1 << 20, 1 << 30).default(64 << 20)
    .describe('Most bytes of artifacts (flame graphs, profiles) kept per run; kept for CAPSULE_RESULT_TTL.'),
  CAPSULE_PROFILE_TOOLS: z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true')
    .describe('Set to 1 to record a server CPU profile of every tool call (artifacts owned by "capsule-tools").'),
  CAPSULE_POOL: z.enum(['0', '1', 'true', 'false']).default('1').transform((v) => v === '1' || v === 'true')
    .describe('Set to 0 to turn every warm pool off (each run then creates its container: the cold path).'),
  CAPSULE_CONTEXT_MAX_VALUE_BYTES: int(16, 16 << 20).default(64 << 10).describe('Largest value set_context accepts (bytes of JSON).'),
  CAPSULE_CONTEXT_MAX_OWNER_BYTES: int(1024, 1 << 30).default(4 << 20).describe('Most bytes of context one owner may keep.'),
  CAPSULE_CONTEXT_MAX_KEYS: int(1, 1_000_000).default(1000).describe('Most context keys one owner may keep.'),
  CAPSULE_MODEL_URL: z.string().url().optional()
    .describe('OpenAI-compatible endpoint (e.g. http://127.0.0.1:11434/v1) generate_code uses when the client cannot sample.'),
  CAPSULE_MODEL: z.string().min(1).optional().describe('Model name for CAPSULE_MODEL_URL.'),
  CAPSULE_MODEL_API_KEY: z.string().optional().describe('API key for CAPSULE_MODEL_URL (sent as a bearer token; never logged).'),
  CAPSULE_MAX_CONNECTIONS: int(16, 1_000_000).default(4096)
    .describe('Most TCP connections the HTTP server holds at once (keep-alive and SSE streams included); beyond it new connections are closed at once.'),
  CAPSULE_MAX_SESSIONS: int(1, 1_000_000).default(1000)
    .describe('Most MCP sessions open at once, over all owners; beyond it `initialize` gets 429 with Retry-After.'),
  CAPSULE_OWNER_MAX_SESSIONS: int(1, 1_000_000).default(100)
    .describe('Most MCP sessions one owner (token; "local" without tokens) may hold open at once.'),
  CAPSULE_SESSION_IDLE_TIMEOUT: duration.pipe(z.number().min(1000, 'must be at least 1s')).default(30 * 60_000)
    .describe('An MCP session with no request for this long is closed and frees its slot (seconds, or 90s/30m/1h); default 30m.'),
  CAPSULE_TOKENS: z.string().optional()
    .describe('Bearer tokens as comma-separated name:token pairs (e.g. ci:s3cret,alice:t0k3n); the name is the owner.'),
  CAPSULE_TOKENS_FILE: z.string().optional()
    .describe('File of `name sha256:<hex of the token>` lines (make one with `capsule new-token <name>`); used with or instead of CAPSULE_TOKENS.'),
  CAPSULE_ADMIN_OWNERS: z.string().default('').transform((v, ctx) => {
    const names = v.split(',').map((n) => n.trim()).filter(Boolean);
    const bad = names.find((n) => !/^[A-Za-z0-9_.-]{1,64}$/.test(n));
    if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `"${bad}" is not an owner name ([A-Za-z0-9_.-]{1,64}, as token names)` });
    return names;
  })
    .describe('Comma-separated owners (token names) who see and may kill every owner\'s runs in the dashboard and the REST API; "local" (no tokens) is admin only when listed.'),
  CAPSULE_TRACE_URL_TEMPLATE: z.string().refine((v) => v.includes('{trace_id}'), 'must contain {trace_id}').refine((v) => /^https?:\/\//.test(v), 'must be an http(s) URL').optional()
    .describe('Link for a run\'s trace in the dashboard, e.g. http://127.0.0.1:16686/trace/{trace_id} (Jaeger); without it the trace id is shown as text.'),
  CAPSULE_ALLOWED_HOSTS: z.string().optional()
    .describe('Comma-separated host names (no port) accepted in the Host header on non-loopback binds (e.g. capsule.example.com,localhost).'),
});

export type Config = z.infer<typeof configSchema>;

/** Parse the CAPSULE_* environment once; a bad value fails with every offending key named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const parsed = configSchema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}
