import type { Profile } from '../../server/sandbox/profiles/profiles.js';
import { requireEngine, runtime, shippedProfile } from './engine.js';

/**
 * The OCI runtimes the run guarantees are held to: each case is a shipped profile loaded under the name
 * `default`, so a test written for the default profile runs unchanged on it. `gvisor` needs runsc on
 * the engine (`make engine`); its absence fails the tests with the fix named, never skips them.
 */
export interface RuntimeCase {
  /** For test titles: "runc" or "gvisor". */
  label: string;
  /** The OCI runtime results must report. */
  runtime: string;
  /** The shipped profile file (sandbox-profiles/<file>.yaml) the case runs. */
  file: 'default' | 'gvisor';
  /** The shipped profile of this case (named default), with some fields replaced. */
  profile(overrides?: Partial<Profile>): Profile;
  /** test.before: the engine, the image, disk quotas, and this case's runtime. */
  ready(): Promise<void>;
}

async function requireRuntime(name: string): Promise<void> {
  await requireEngine();
  const info = await runtime.info();
  if (!info.runtimes.includes(name)) {
    throw new Error(`the engine does not offer the OCI runtime "${name}" (it has: ${info.runtimes.join(', ')}): run \`make engine\` (scripts/provision-gvisor.sh)`);
  }
}

export const RUNTIME_CASES: RuntimeCase[] = [
  { label: 'runc', runtime: 'runc', file: 'default', profile: (o) => shippedProfile(o), ready: requireEngine },
  { label: 'gvisor', runtime: 'runsc', file: 'gvisor', profile: (o) => shippedProfile(o, 'gvisor'), ready: () => requireRuntime('runsc') },
];

/** The case selected by TEST_RUNTIMES (comma-separated labels; default: every case). */
export function runtimeCases(): RuntimeCase[] {
  const wanted = process.env['TEST_RUNTIMES']?.split(',').map((s) => s.trim()).filter(Boolean);
  return wanted?.length ? RUNTIME_CASES.filter((c) => wanted.includes(c.label)) : RUNTIME_CASES;
}
