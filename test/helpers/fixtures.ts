import type { ContainerRuntime } from '../../server/runtime/container-runtime.js';
import pino from 'pino';
import { loadConfig, type Config } from '../../server/config.js';
import type { Profile } from '../../server/sandbox/profiles/profiles.js';
import { BoundedVolumes } from '../../server/sandbox/volumes/bounded-volumes.js';

export const silentLog = pino({ level: 'silent' });

/** A profile with small numbers, for unit tests. */
export function testProfile(overrides: Partial<Profile> = {}): Profile {
  return {
    name: 'default',
    description: 'test profile',
    image: 'capsule/sandbox:test',
    memoryBytes: 64 << 20,
    cpus: 1,
    pidsLimit: 64,
    timeoutDefaultMs: 5000,
    timeoutMaxMs: 10_000,
    processTimeoutDefaultMs: 20_000,
    processTimeoutMaxMs: 60_000,
    outputMaxBytesPerStream: 1024,
    tmpfsTmpBytes: 1 << 20,
    tmpfsWorkspaceBytes: 1 << 20,
    ulimits: [{ name: 'nofile', soft: 64, hard: 64 }],
    env: {},
    network: 'none',
    enabled: true,
    pool: { size: 0, maxIdleMs: 60_000 },
    source: 'test',
    ...overrides,
  };
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ CAPSULE_KILL_GRACE_MS: '50', ...env });
}

/** Quota'd volumes on a fake runtime (its FakeVolumeHelper plays the btrfs side). */
export function testVolumes(runtime: ContainerRuntime, options: { required?: boolean } = {}): BoundedVolumes {
  return new BoundedVolumes({ runtime, log: silentLog, instance: { name: 'unit', bootId: 'test' }, image: 'capsule/sandbox:test', root: '/var/lib/capsule/volumes', required: options.required ?? false });
}
