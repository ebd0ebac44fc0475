import type { CallOptions, VolumeSummary } from '../container-runtime.js';
import { VolumeInUseError } from '../runtime-errors.js';
import type { DockerClient } from './docker-client.js';
import { engineStatus } from './docker-errors.js';

/** Docker's label filter: "key=value", or the bare key for '' (any value). */
export function labelFilter(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`));
}

/** A named local-driver volume. */
export async function createVolume(client: DockerClient, name: string, labels: Record<string, string>, driverOptions?: Record<string, string>, options?: CallOptions): Promise<void> {
  const body = { Name: name, Labels: labels, Driver: 'local', ...(driverOptions ? { DriverOpts: driverOptions } : {}) };
  await client.call('createVolume', options, (abortSignal) => client.docker.createVolume({ ...body, abortSignal }));
}

/** A missing volume is not an error; one a container mounts is VolumeInUseError. */
export async function removeVolume(client: DockerClient, name: string, options?: CallOptions): Promise<void> {
  try {
    await client.call('removeVolume', options, (abortSignal) => client.docker.getVolume(name).remove({ abortSignal }));
  } catch (err) {
    const status = engineStatus(err);
    if (status === 404) return;
    // 409: a container (running or not) still mounts it.
    if (status === 409) throw new VolumeInUseError(name, { cause: err });
    throw err;
  }
}

/** Volumes carrying every label ('' matches any value). */
export async function listVolumes(client: DockerClient, labels: Record<string, string>, options?: CallOptions): Promise<VolumeSummary[]> {
  const res = await client.call('listVolumes', options, (abortSignal) => client.docker.listVolumes({ filters: { label: labelFilter(labels) }, abortSignal }));
  return (res.Volumes ?? []).map((v) => ({
    name: v.Name,
    labels: v.Labels ?? {},
    createdAt: (v as { CreatedAt?: string }).CreatedAt ?? '',
    options: (v.Options as Record<string, string> | null) ?? {},
  }));
}
