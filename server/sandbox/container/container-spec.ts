import type { ContainerSpec, VolumeMount } from '../../runtime/container-runtime.js';
import { JOB_DIR } from './languages.js';
import { LABEL, recreatedWorkspaceLabels } from './labels.js';
import { lockedDown, SANDBOX_USER } from './lockdown.js';
import { launcherCommand } from './launcher-protocol.js';
import type { EgressPlacement } from '../egress/egress-service.js';
import type { Profile } from '../profiles/profiles.js';
import type { EffectiveLimits } from '../runs/run-request.js';

/** Where profilers write artifacts inside the container. */
export const OUTPUT_DIR = '/capsule-out';

/**
 * The mount of a workspace volume at `target`. A quota'd workspace (driverOptions: the bind of its
 * subvolume) that a mount re-creates is bound to the same subvolume, so it stays bounded.
 */
export function workspaceVolumeMount(target: string, volume: string, workspaceId: string, instance: string, driverOptions?: Record<string, string>): VolumeMount {
  const labels = recreatedWorkspaceLabels(workspaceId, instance);
  if (!driverOptions) return { source: volume, target, readOnly: false, labelsIfCreated: labels };
  return { source: volume, target, readOnly: false, labelsIfCreated: { ...labels, [LABEL.quota]: 'btrfs' }, driverOptionsIfCreated: driverOptions };
}

/** The volumes of a run: /capsule for code files, /capsule-out, and what backs /workspace when not a tmpfs. */
function runVolumes(input: Pick<Parameters<typeof buildContainerSpec>[0], 'withJobDir' | 'withOutputDir' | 'workspaceMount' | 'scratchMount' | 'labels'>): VolumeMount[] {
  const volumes: VolumeMount[] = [];
  if (input.withJobDir) volumes.push({ target: JOB_DIR, readOnly: false });
  const scratch = (target: string): VolumeMount => input.scratchMount?.(target) ?? { target, readOnly: false };
  if (input.withOutputDir) volumes.push(scratch(OUTPUT_DIR));
  const ws = input.workspaceMount;
  if (ws?.volume) volumes.push(workspaceVolumeMount('/workspace', ws.volume, ws.workspaceId ?? '', input.labels[LABEL.instance] ?? '', ws.driverOptions));
  else if (ws) volumes.push(scratch('/workspace'));
  return volumes;
}

/** The locked-down container for one run of `argv` under `profile`. */
export function buildContainerSpec(input: {
  profile: Profile;
  limits: EffectiveLimits;
  argv: string[];
  /** Bytes of each stream the launcher forwards before keeping only the tail (null = all; see PreparedRun). */
  outputCap?: number | null;
  env: Record<string, string>;
  workdir: string;
  openStdin: boolean;
  withJobDir: boolean;
  /**
   * What backs /workspace: null = the profile's tmpfs; { volume } = a workspace volume;
   * { volume: null } = an anonymous volume (files put in before start, or collected after exit,
   * which a tmpfs cannot hold).
   */
  workspaceMount: { volume: string | null; workspaceId?: string; driverOptions?: Record<string, string> } | null;
  /** A writable /capsule-out (anonymous volume, owned by uid 10001 through the image) for artifacts. */
  withOutputDir?: boolean;
  /** Quota'd scratch volumes (run-volumes.ts) that replace the anonymous /workspace and /capsule-out. */
  scratchMount?: (target: string) => VolumeMount | undefined;
  /**
   * An egress run's place: the internal network (no other way out), the proxy env (it wins over the
   * caller's env), the proxy CA read-only, short DNS timeouts. Every other lockdown is unchanged.
   */
  egress?: EgressPlacement;
  labels: Record<string, string>;
}): ContainerSpec {
  const { profile, egress } = input;
  const tmpfs: ContainerSpec['tmpfs'] = { '/tmp': { sizeBytes: profile.tmpfsTmpBytes, mode: 0o1777 } };
  // Last, so a caller's env cannot turn it off; the launcher removes it from the program's environment.
  const guard: Record<string, string> = profile.memoryGuardHeadroomBytes ? { CAPSULE_MEMORY_GUARD: String(input.limits.memoryBytes) } : {};
  if (!input.workspaceMount) tmpfs['/workspace'] = { sizeBytes: profile.tmpfsWorkspaceBytes, uid: 10001, gid: 10001, mode: 0o755 };
  return lockedDown({
    image: profile.image,
    // Every program runs under the launcher (frames output, reports exit and cgroup accounting).
    cmd: launcherCommand(input.argv, input.outputCap ?? null),
    user: SANDBOX_USER,
    workdir: input.workdir,
    env: { ...profile.env, ...input.env, ...egress?.env, ...guard },
    labels: input.labels,
    openStdin: input.openStdin,
    memoryBytes: input.limits.memoryBytes + (profile.memoryGuardHeadroomBytes ?? 0),
    nanoCpus: Math.round(input.limits.cpus * 1e9),
    pidsLimit: input.limits.pids,
    ulimits: profile.ulimits,
    tmpfs,
    volumes: [...runVolumes(input), ...(egress ? [egress.mount] : [])],
    network: egress?.network ?? profile.network,
    ...(egress ? { dns: egress.dns, dnsOptions: egress.dnsOptions } : {}),
    ...(profile.seccompJson ? { seccompProfile: profile.seccompJson } : {}),
    init: true,
    ...(profile.runtime ? { runtime: profile.runtime } : {}),
  });
}
