// Where a run goes: the less loaded of two engines picked at random ("power of two choices": close to
// least-loaded without every placement reading every engine, and no herd onto one idle engine).
// Pure: the engine set gives it candidates and their loads.

/** What a run asks of an engine. */
export interface Demand {
  cpus: number;
  memoryBytes: number;
}

/** What one engine has and what its live runs hold. */
export interface EngineLoad {
  cpus: number;
  memoryBytes: number;
  reservedCpus: number;
  reservedMemoryBytes: number;
}

/**
 * The engine's load once this run is placed: live runs' CPU and memory limits against its capacity,
 * whichever is fuller. An engine that reported no capacity yet counts as 1 CPU and 1 GiB.
 */
export function loadAfter(e: EngineLoad, demand: Demand): number {
  const cpus = e.cpus > 0 ? e.cpus : 1;
  const memory = e.memoryBytes > 0 ? e.memoryBytes : 1024 ** 3;
  return Math.max((e.reservedCpus + demand.cpus) / cpus, (e.reservedMemoryBytes + demand.memoryBytes) / memory);
}

/** True when every wanted label is on the engine with that value. */
export function matchesLabels(labels: Record<string, string>, wanted: Record<string, string> | undefined): boolean {
  for (const k in wanted) if (labels[k] !== wanted[k]) return false;
  return true;
}

/** Best of two: two distinct candidates at random, the less loaded wins (a tie: the first drawn). Null when none. */
export function bestOfTwo<T>(candidates: readonly T[], load: (c: T) => number, random: () => number = Math.random): T | null {
  if (candidates.length === 0) return null;
  if (candidates.length === 1) return candidates[0]!;
  const i = Math.floor(random() * candidates.length);
  let j = Math.floor(random() * (candidates.length - 1));
  if (j >= i) j++;
  const a = candidates[i]!;
  const b = candidates[j]!;
  return load(b) < load(a) ? b : a;
}
