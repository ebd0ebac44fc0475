import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { DockerRuntime } from '../../server/runtime/docker/docker-runtime.js';
import type { ContainerRuntime } from '../../server/runtime/container-runtime.js';
import { parseProfile, type Profile } from '../../server/sandbox/profiles/profiles.js';
import type { Services } from '../../server/services.js';
import { DEFAULT_SANDBOX_IMAGE, projectRoot } from '../../server/version.js';
import { readFileSync } from 'node:fs';
import { servicesFor } from './services.js';

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

/**
 * Every service on the real engine (or `runtime`), built by the server's own buildServices, with disk
 * quotas required; the shipped default profile unless others are given.
 */
export function realServices(options: { profiles?: Profile[]; env?: Record<string, string>; instance?: string; runtime?: ContainerRuntime } = {}): Services {
  return servicesFor(options.runtime ?? runtime, { ...TEST_ENV, ...options.env }, options.profiles ?? [shippedProfile()], options.instance ?? 'itest');
}

/** The real quota'd volumes at CAPSULE_VOLUME_ROOT (default /var/lib/capsule/volumes), required. */
export function realVolumes(instanceName = 'itest', env: Record<string, string> = {}) {
  return realServices({ instance: instanceName, env }).volumes;
}

/**
 * The shipped default profile with some fields replaced (e.g. a small memory limit for OOM tests); or
 * another shipped file (`gvisor`) under the name default, so a test written for default runs on it.
 */
export function shippedProfile(overrides: Partial<Profile> = {}, file = 'default'): Profile {
  const source = join(projectRoot, 'sandbox-profiles', `${file}.yaml`);
  return { ...parseProfile('default', readFileSync(source, 'utf8'), source, DEFAULT_SANDBOX_IMAGE), ...overrides };
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
