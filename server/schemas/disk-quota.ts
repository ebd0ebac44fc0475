import { z } from 'zod';

/** `disk_quota` in system_info and list_profiles: whether the kernel bounds what runs put on disk. */
export const diskQuotaSchema = z
  .object({
    enforced: z.boolean().describe('True when every volume a run writes to has a kernel-enforced limit.'),
    mechanism: z.enum(['btrfs-squota', 'none']),
    root: z.string().describe('CAPSULE_VOLUME_ROOT: where bounded volumes live on the engine host.'),
    reason: z.string().optional().describe('Why quotas are not enforced.'),
  })
  .describe('Disk quotas: when not enforced, workspaces and run volumes are unbounded.');
