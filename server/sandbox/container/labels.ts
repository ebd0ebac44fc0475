/**
 * The one labels module: every label key Capsule puts on what it creates is spelled here, and so is
 * each kind's label set. The reaper, the sweeps and the tests find things by these labels.
 */

/** Which server made a container: a stable name (the reaper's scope) and a per-start boot id. */
export interface InstanceIdentity {
  name: string;
  bootId: string;
}

export const LABEL = {
  managed: 'capsule.managed',
  runId: 'capsule.run_id',
  kind: 'capsule.kind',
  profile: 'capsule.profile',
  owner: 'capsule.owner',
  instance: 'capsule.instance',
  boot: 'capsule.boot',
  workspace: 'capsule.workspace',
  createdAt: 'capsule.created_at',
  expiresAt: 'capsule.expires_at',
  /** A workspace volume the engine re-created on a mount after it was deleted. */
  recreated: 'capsule.recreated',
  /** A volume that is a quota'd subvolume (volumes made before enforcement have none). */
  quota: 'capsule.quota',
  /** Where a scratch volume is mounted in its run. */
  mount: 'capsule.mount',
  /** What a piece of the egress proxy's world is: proxy, internal, outside, state, public. */
  egress: 'capsule.egress',
} as const;

/** What a labelled thing is: a run's container, a warm one, a helper, a volume. */
export type Kind = 'run' | 'pool' | 'helper' | 'volume-helper' | 'workspace' | 'scratch' | 'egress-proxy' | 'egress-network' | 'egress-volume';

/** The parts of the egress proxy's world (server/sandbox/egress/): its container, networks and volumes. */
export type EgressPart = 'proxy' | 'internal' | 'outside' | 'state' | 'public';

/** The labels shared by everything this server creates. */
function managed(kind: Kind, instance: InstanceIdentity): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.kind]: kind, [LABEL.instance]: instance.name, [LABEL.boot]: instance.bootId };
}

/** A filter for every container or volume of this server's name (this start's and earlier ones'). */
export function ofInstance(instance: InstanceIdentity, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.instance]: instance.name, ...extra };
}

/** A run's container, or a warm one (kind pool, adopted by the run that takes it). */
export function runLabels(input: { runId: string; kind: 'run' | 'pool'; profile: string; owner: string; instance: InstanceIdentity }): Record<string, string> {
  return { ...managed(input.kind, input.instance), [LABEL.runId]: input.runId, [LABEL.profile]: input.profile, [LABEL.owner]: input.owner };
}

/** A short-lived helper container (file moves on a workspace, volume administration). */
export function helperLabels(kind: 'helper' | 'volume-helper', helperId: string, instance: InstanceIdentity, workspaceId?: string): Record<string, string> {
  return { ...managed(kind, instance), [LABEL.runId]: helperId, ...(workspaceId ? { [LABEL.workspace]: workspaceId } : {}) };
}

/** A workspace volume. */
export function workspaceLabels(input: { workspaceId: string; owner: string; instance: InstanceIdentity; createdAt: Date; expiresAt: Date }): Record<string, string> {
  const { [LABEL.boot]: _boot, ...base } = managed('workspace', input.instance);
  return {
    ...base,
    [LABEL.workspace]: input.workspaceId,
    [LABEL.owner]: input.owner,
    [LABEL.createdAt]: input.createdAt.toISOString(),
    [LABEL.expiresAt]: input.expiresAt.toISOString(),
  };
}

/**
 * Labels of a workspace volume that a mount re-created after the workspace was deleted (the engine
 * creates missing named volumes on mount): managed and already expired, so it is never served as a
 * workspace and the reaper's sweep removes it, instead of an unlabelled volume nobody would find.
 */
export function recreatedWorkspaceLabels(workspaceId: string, instance: string): Record<string, string> {
  return {
    [LABEL.managed]: 'true',
    [LABEL.kind]: 'workspace',
    [LABEL.workspace]: workspaceId,
    [LABEL.instance]: instance,
    [LABEL.expiresAt]: new Date(0).toISOString(),
    [LABEL.recreated]: 'true',
  };
}

/** A run's scratch volume (its bounded /workspace or /capsule-out), removed with the run. */
export function scratchLabels(input: { runId: string; owner: string; instance: InstanceIdentity; mount: string }): Record<string, string> {
  return { ...managed('scratch', input.instance), [LABEL.runId]: input.runId, [LABEL.owner]: input.owner, [LABEL.mount]: input.mount };
}

/**
 * A part of the egress proxy's world. The proxy container's `capsule.run_id` is its generation
 * (each re-creation gets a new one), so the reaper can tell the current proxy from a replaced one.
 */
export function egressLabels(part: EgressPart, instance: InstanceIdentity, generation?: string): Record<string, string> {
  const kind: Kind = part === 'proxy' ? 'egress-proxy' : part === 'internal' || part === 'outside' ? 'egress-network' : 'egress-volume';
  return { ...managed(kind, instance), [LABEL.egress]: part, ...(generation ? { [LABEL.runId]: generation } : {}) };
}

/** True when `labels` are of `kind` and name a run id in `live` (the reaper's "is this still owned?"). */
export function ownedBy(labels: Record<string, string>, kinds: readonly Kind[], live: ReadonlySet<string>): boolean {
  return (kinds as readonly string[]).includes(labels[LABEL.kind] ?? '') && live.has(labels[LABEL.runId] ?? '');
}
