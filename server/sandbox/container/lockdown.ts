import type { ContainerSpec } from '../../runtime/container-runtime.js';

/** The sandbox user: non-root, the owner of /workspace in the image. */
export const SANDBOX_USER = '10001:10001';

type Hardened = 'readOnlyRootfs' | 'capDrop' | 'noNewPrivileges';

/**
 * The one lockdown every Capsule container gets, sandboxes and helpers alike: read-only root, every
 * capability dropped (a helper may add back named ones with capAdd), no-new-privileges, and no network
 * unless a profile names one. Callers cannot pass these fields, so none can loosen them.
 */
export function lockedDown(spec: Omit<ContainerSpec, Hardened | 'network'> & { network?: string }): ContainerSpec {
  return { network: 'none', ...spec, readOnlyRootfs: true, capDrop: ['ALL'], noNewPrivileges: true };
}
