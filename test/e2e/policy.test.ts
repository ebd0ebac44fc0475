/**
 * Command policy through the real server under every OCI runtime: run_command, run_code and
 * start_process refused with `policy_denied` naming the rule, before any container exists (the
 * engine's own event log for this server's instance shows containers only for the runs allowed),
 * and every refusal counted in capsule.policy.denials on /metrics.
 */
import test from 'ava';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { projectRoot } from '../../server/version.js';
import { serverForThisFile } from '../helpers/file-server.js';
import { httpClient } from '../helpers/mcp-client.js';
import { runtimeCases } from '../helpers/runtimes.js';

const POLICY = { deny: ['\\brm\\s+-rf\\b', '/import\\s+socket/i'], allow: ['^(echo|print)\\b'] };

/** A shipped profile file with the policy, and no warm pool: any container of the instance is a run's. */
function policedProfile(file: string, policy: object | undefined): string {
  const p = parse(readFileSync(join(projectRoot, 'sandbox-profiles', `${file}.yaml`), 'utf8')) as Record<string, unknown>;
  return stringify({ ...p, ...(policy ? { policy } : {}), pool: { size: 0, max_idle_s: 300 } });
}

const dir = mkdtempSync(join(tmpdir(), 'capsule-policy-profiles-'));
writeFileSync(join(dir, 'default.yaml'), policedProfile('default', undefined));
for (const rc of runtimeCases()) writeFileSync(join(dir, `policed-${rc.label}.yaml`), policedProfile(rc.file, POLICY));
const server = serverForThisFile({ CAPSULE_PROFILES_DIR: dir }, async () => rmSync(dir, { recursive: true, force: true }));

/** Run ids of the containers the engine created for `instance` and `profile` between two times (docker events, read back). */
async function createdRunIds(instance: string, profile: string, sinceMs: number, untilMs: number): Promise<string[]> {
  const { stdout } = await promisify(execFile)('docker', [
    'events', '--since', String(Math.floor(sinceMs / 1000) - 1), '--until', String(Math.ceil(untilMs / 1000) + 1),
    '--filter', 'type=container', '--filter', 'event=create', '--filter', `label=capsule.instance=${instance}`, '--filter', `label=capsule.profile=${profile}`, '--format', '{{json .Actor.Attributes}}',
  ]);
  return stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Record<string, string>)['capsule.run_id'] ?? '(no run id)');
}

/** capsule.policy.denials on /metrics, by rule, for one profile. */
async function denials(base: string, profile: string): Promise<Record<string, number>> {
  const families = parsePrometheusTextFormat(await (await fetch(`${base}/metrics`)).text()) as Array<{ name: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> }>;
  const family = families.find((f) => f.name === 'capsule_policy_denials_total' || f.name === 'capsule_policy_denials');
  const out: Record<string, number> = {};
  for (const m of family?.metrics ?? []) {
    if (m.labels?.['capsule_profile'] !== profile) continue;
    const key = `${m.labels['capsule_policy_input']}:${m.labels['capsule_policy_rule']}`;
    out[key] = (out[key] ?? 0) + Number(m.value ?? 0);
  }
  return out;
}

for (const rc of runtimeCases()) {
  test.before(rc.ready);
  const profile = `policed-${rc.label}`;

  test(`[${rc.label}] refusals name the rule, come before any container, and are counted; allowed runs run`, async (t) => {
    const { call, client } = await httpClient(server().url);
    t.teardown(() => client.close());
    const listed = await call<{ profiles: Array<{ name: string; runtime: string; policy?: { deny: string[]; allow: string[] | null } }> }>('list_profiles');
    const mine = listed.s.profiles.find((p) => p.name === profile);
    t.deepEqual(mine?.policy?.deny, POLICY.deny);
    t.deepEqual(mine?.policy?.allow, POLICY.allow);
    t.is(mine?.runtime, rc.runtime);

    const since = Date.now();
    const refused = [
      await call('run_command', { profile, command: 'echo start; rm -rf /workspace/x' }),
      await call('run_code', { profile, language: 'python', code: 'import socket\nprint(socket.gethostname())' }),
      await call('start_process', { profile, command: 'sleep 5' }),
    ];
    t.true(refused.every((r) => r.result.isError === true), refused.map((r) => r.text).join('\n'));
    t.regex(refused[0]!.text, /^policy_denied: deny rule "\\\\brm\\\\s\+-rf\\\\b" of profile "policed-\w+" matched the command/);
    t.notRegex(refused[0]!.text, /workspace\/x/, 'the refused command itself is not echoed');
    t.regex(refused[1]!.text, /^policy_denied: deny rule "\/import\\\\s\+socket\/i" of profile "policed-\w+" matched the code/);
    t.regex(refused[2]!.text, /^policy_denied: no allow rule of profile "policed-\w+" matched the command/);

    const allowed = [
      await call<{ run_id: string; exit_code: number; stdout: string; runtime: string }>('run_command', { profile, command: 'echo allowed' }),
      await call<{ run_id: string; exit_code: number; stdout: string; runtime: string }>('run_code', { profile, language: 'python', code: 'print("ok")' }),
    ];
    for (const r of allowed) {
      t.falsy(r.result.isError, r.text);
      t.is(r.s.exit_code, 0);
      t.is(r.s.runtime, rc.runtime);
    }
    t.deepEqual(allowed.map((r) => r.s.stdout), ['allowed\n', 'ok\n']);
    // The engine saw a container for each allowed run (so the event read works) and for nothing else.
    const created = await createdRunIds(server().instance, profile, since, Date.now());
    t.deepEqual(created.sort(), allowed.map((r) => r.s.run_id).sort());

    t.deepEqual(await denials(server().base, profile), { 'command:deny': 1, 'code:deny': 1, 'command:allow': 1 });
  });
}
