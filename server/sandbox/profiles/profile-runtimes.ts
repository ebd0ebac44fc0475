import { ConfigurationError } from '../../errors.js';

/** What a profile says about its OCI runtime (a slice of Profile, so this file needs no more of it). */
interface RuntimeNeed {
  name: string;
  runtime?: string;
  /** An optional profile whose runtime the engine lacks is disabled instead of stopping start-up. */
  optional?: boolean;
}

/** The engine's OCI runtimes as last read (EngineInfo.runtimes and defaultRuntime). */
export interface EngineRuntimeFacts {
  runtimes: string[];
  defaultRuntime: string;
}

/**
 * Which OCI runtimes the engine offers, as last seen, and so which profiles can run. A profile naming
 * a runtime the engine lacks stops start-up, unless it is `optional: true` (the shipped `gvisor`
 * profile): then it is listed with `enabled: false` and the reason, and refused (`forbidden`).
 *
 * The engine can gain or lose a runtime while Capsule runs (daemon.json reloaded with SIGHUP, a
 * restart with other flags), so the facts are read again at start-up, on every /readyz, every
 * system_info and list_profiles refresh and every reaper sweep (CAPSULE_REAP_INTERVAL_MS, 30 s):
 * a profile follows its runtime within one of those, without a restart. Before the engine was ever
 * reached nothing is refused here (the engine's own answer to the create says what is wrong).
 */
export class EngineRuntimes {
  private facts: EngineRuntimeFacts | null = null;

  /** True once the engine's runtimes were read. */
  get known(): boolean {
    return this.facts !== null;
  }

  /** Record what the engine offers now; returns the profiles whose availability changed. */
  observe(facts: EngineRuntimeFacts, profiles: RuntimeNeed[]): Array<{ name: string; available: boolean }> {
    const before = new Map(profiles.map((p) => [p.name, this.missing(p) === null]));
    this.facts = { runtimes: [...facts.runtimes], defaultRuntime: facts.defaultRuntime };
    return profiles.flatMap((p) => {
      const available = this.missing(p) === null;
      return before.get(p.name) === available ? [] : [{ name: p.name, available }];
    });
  }

  /** Why `profile` cannot run on the engine as last seen, or null. */
  missing(profile: RuntimeNeed): string | null {
    if (!profile.runtime || !this.facts || this.facts.runtimes.includes(profile.runtime)) return null;
    const hint = profile.runtime === 'runsc' ? '`make engine` installs and registers gVisor' : 'register it in the engine\'s daemon.json (`runtimes`)';
    return `profile "${profile.name}" needs the OCI runtime "${profile.runtime}", which the engine does not offer (it has: ${this.facts.runtimes.join(', ') || 'none'}): ${hint}`;
  }

  /** The runtime a run of `profile` gets: its own, else the engine's default ("engine default" until the engine was reached). */
  effective(profile: Pick<RuntimeNeed, 'runtime'>): string {
    return profile.runtime ?? this.facts?.defaultRuntime ?? 'engine default';
  }

  /** Start-up: an enabled, required (not optional) profile whose runtime the engine lacks stops the server, naming its file. */
  requireFor(profiles: Array<RuntimeNeed & { source: string; enabled: boolean }>): void {
    for (const p of profiles) {
      const missing = p.optional || !p.enabled ? null : this.missing(p);
      if (missing) throw new ConfigurationError(`profile ${p.source}: ${missing} (set \`optional: true\` in the profile to list it as disabled instead)`);
    }
  }
}
