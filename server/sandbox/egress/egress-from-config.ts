import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { ConfigurationError } from '../../errors.js';
import { resolveSecretValues } from '../../egress/proxy-config.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import type { InstanceIdentity } from '../container/labels.js';
import type { ProfileRegistry } from '../profiles/profiles.js';
import { EgressService } from './egress-service.js';

/**
 * The egress service for the enabled egress profiles, or undefined when there are none (no proxy then).
 * Secret values are read here, at start-up, from `env` (from_env) or files (from_file): a missing or
 * empty one stops start-up naming the profile file and the key. Values are never logged.
 */
export function egressFromConfig(input: {
  config: Config;
  runtime: ContainerRuntime;
  log: Logger;
  instance: InstanceIdentity;
  profiles: ProfileRegistry;
  env: Record<string, string | undefined>;
  readFile?: (path: string) => string;
}): EgressService | undefined {
  const { config } = input;
  const readFile = input.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const profiles = input.profiles.all().filter((p) => p.enabled && p.egress);
  if (profiles.length === 0) return undefined;
  const secretValues: Record<string, Record<string, string>> = {};
  for (const p of profiles) {
    try {
      Object.assign(secretValues, resolveSecretValues([{ name: p.name, egress: p.egress! }], input.env, readFile));
    } catch (err) {
      throw new ConfigurationError(`${p.source}: ${(err as Error).message}`);
    }
  }
  let upstreamCaPem: string | undefined;
  if (config.CAPSULE_EGRESS_UPSTREAM_CA) {
    try {
      upstreamCaPem = readFile(config.CAPSULE_EGRESS_UPSTREAM_CA);
    } catch (err) {
      throw new ConfigurationError(`CAPSULE_EGRESS_UPSTREAM_CA: cannot read ${config.CAPSULE_EGRESS_UPSTREAM_CA}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (!upstreamCaPem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigurationError(`CAPSULE_EGRESS_UPSTREAM_CA: ${config.CAPSULE_EGRESS_UPSTREAM_CA} holds no PEM certificate`);
  }
  return new EgressService({
    runtime: input.runtime,
    log: input.log,
    instance: input.instance,
    profiles,
    secretValues,
    image: config.CAPSULE_EGRESS_IMAGE,
    subnetPool: config.CAPSULE_EGRESS_SUBNET,
    ...(config.CAPSULE_EGRESS_NETWORK ? { outsideNetwork: config.CAPSULE_EGRESS_NETWORK } : {}),
    ...(upstreamCaPem ? { upstreamCaPem } : {}),
  });
}
