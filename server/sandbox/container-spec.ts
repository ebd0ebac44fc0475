import type { ContainerSpec } from '../runtime/container-runtime.js';
import { JOB_DIR } from './languages.js';
import type { Profile } from './profiles.js';

export const SANDBOX_USER = '10001:10001';

/** Labels every Capsule container carries; the reaper and tests find containers by them. */
export function runLabels(runId: string, kind: string, profile: string, instanceId: string): Record<string, string> {
  return {
    'capsule.managed': 'true',
    'capsule.run_id': runId,
    'capsule.kind': kind,
    'capsule.profile': profile,
    'capsule.instance': instanceId,
  };
}

/** The locked-down container for one run of `argv` under `profile`. */
export function buildContainerSpec(input: {
  profile: Profile;
  argv: string[];
  env: Record<string, string>;
  workdir: string;
  openStdin: boolean;
  withJobDir: boolean;
  labels: Record<string, string>;
}): ContainerSpec {
  const { profile } = input;
  return {
    image: profile.image,
    cmd: input.argv,
    user: SANDBOX_USER,
    workdir: input.workdir,
    env: { ...profile.env, ...input.env },
    labels: input.labels,
    openStdin: input.openStdin,
    memoryBytes: profile.memoryBytes,
    nanoCpus: Math.round(profile.cpus * 1e9),
    pidsLimit: profile.pidsLimit,
    ulimits: profile.ulimits,
    tmpfs: {
      '/tmp': `rw,nosuid,nodev,size=${profile.tmpfsTmpBytes},mode=1777`,
      '/workspace': `rw,nosuid,nodev,size=${profile.tmpfsWorkspaceBytes},uid=10001,gid=10001,mode=0755`,
    },
    volumes: input.withJobDir ? [{ target: JOB_DIR, readOnly: false }] : [],
    network: 'none',
    readOnlyRootfs: true,
    capDrop: ['ALL'],
    securityOpt: ['no-new-privileges:true'],
    init: true,
    ...(profile.runtime ? { runtime: profile.runtime } : {}),
  };
}
