import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import { DockerRuntime } from '../../server/runtime/docker/docker-runtime.js';
import { ProfileRegistry, parseProfile, type Profile } from '../../server/sandbox/profiles.js';
import { SandboxService } from '../../server/sandbox/sandbox-service.js';
import { WorkspaceService } from '../../server/sandbox/workspace-service.js';
import { BoundedVolumes } from '../../server/sandbox/bounded-volumes.js';
import { DEFAULT_SANDBOX_IMAGE, projectRoot } from '../../server/version.js';
import { readFileSync } from 'node:fs';
import { silentLog } from './fixtures.js';

export const runtime = new DockerRuntime();

/** Tests run with disk quotas required: they cannot pass on the unbounded fallback. */
export const TEST_ENV = { CAPSULE_REQUIRE_DISK_QUOTA: '1' };

/**
 * Integration tests need the real engine, the real image and kernel-enforced disk quotas. Any of them
 * missing is a test failure with the fix named, never a skip.
 */
export async function requireEngine(): Promise<void> {
  try {
    await runtime.info();
  } catch (err) {
    throw new Error(`Docker engine not reachable (${(err as Error).message}): run scripts/provision-docker-engine.sh`);
  }
  if (!(await runtime.inspectImage(DEFAULT_SANDBOX_IMAGE))) {
    throw new Error(`image ${DEFAULT_SANDBOX_IMAGE} missing: run make images`);
  }
  const quota = await realVolumes('itest-probe').status();
  if (!quota.enforced) throw new Error(`disk quotas are not enforced (${quota.reason}): run \`sudo bash scripts/provision-volume-root.sh\` (make test does)`);
}

/** The real quota'd volumes at CAPSULE_VOLUME_ROOT (default /var/lib/capsule/volumes), required. */
export function realVolumes(instanceName = 'itest', env: Record<string, string> = {}) {
  const config = loadConfig({ ...TEST_ENV, ...env });
  return new BoundedVolumes({ runtime, log: silentLog, instance: { name: instanceName, bootId: 'itest' }, image: config.CAPSULE_SANDBOX_IMAGE, root: config.CAPSULE_VOLUME_ROOT, required: config.CAPSULE_REQUIRE_DISK_QUOTA });
}

/** The shipped default profile with some fields replaced (e.g. a small memory limit for OOM tests). */
export function shippedProfile(overrides: Partial<Profile> = {}): Profile {
  const source = join(projectRoot, 'sandbox-profiles', 'default.yaml');
  return { ...parseProfile('default', readFileSync(source, 'utf8'), source, DEFAULT_SANDBOX_IMAGE), ...overrides };
}

export function realService(profiles: Profile[] = [shippedProfile()], env: Record<string, string> = {}, rt: DockerRuntime = runtime) {
  return new SandboxService({
    runtime: rt,
    profiles: ProfileRegistry.fromProfiles(profiles),
    config: loadConfig({ ...TEST_ENV, ...env }),
    log: silentLog,
    instance: { name: 'itest', bootId: 'itest' },
    ...(rt === runtime ? { volumes: realVolumes('itest', env) } : {}),
  });
}

/** Real sandbox + workspace services sharing one config (e.g. a small quota) and quota'd volumes. */
export function realWorkspaceServices(env: Record<string, string> = {}, instanceName = 'itest', profiles: Profile[] = [shippedProfile()]) {
  const config = loadConfig({ ...TEST_ENV, ...env });
  const instance = { name: instanceName, bootId: 'itest' };
  const volumes = realVolumes(instanceName, env);
  const workspaces = new WorkspaceService({ runtime, log: silentLog, instance, config, volumes });
  const sandbox = new SandboxService({ runtime, profiles: ProfileRegistry.fromProfiles(profiles), config, log: silentLog, instance, workspaces, volumes });
  return { sandbox, workspaces, volumes };
}

/** Fail the test when any container of this run still exists; print its id for debugging. */
export async function assertNoContainer(t: ExecutionContext, runId: string): Promise<void> {
  const left = await containersLeft({ 'capsule.run_id': runId });
  t.deepEqual(left.map((c) => c.id), [], `containers left behind for ${runId}: ${left.map((c) => c.id).join(', ')}`);
}

/**
 * Containers with these labels, once they are gone (or after `ms`). Warm-pool runs return their
 * result before their container's removal finishes (it follows within ~100 ms).
 */
export async function containersLeft(labels: Record<string, string>, ms = 5000) {
  const end = Date.now() + ms;
  let left = await runtime.list(labels);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    left = await runtime.list(labels);
  }
  return left;
}
