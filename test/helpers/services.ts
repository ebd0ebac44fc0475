import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import type { ContainerRuntime } from '../../server/runtime/container-runtime.js';
import { type Profile, ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { buildServices, type Services } from '../../server/services.js';
import type { OutputChunk } from '../../server/runtime/container-runtime.js';
import type { CommandRunInput } from '../../server/sandbox/runs/run-request.js';
import type { RunResult } from '../../server/sandbox/runs/run-result.js';
import type { CallOptions, SandboxService } from '../../server/sandbox/sandbox-service.js';
import { silentLog, testProfile } from './fixtures.js';

/**
 * The server's own composition (buildServices) for a test: in-memory run store, artifacts in a fresh
 * temporary folder, the given profiles and a fixed instance name (cleanup is scoped by it).
 */
export function servicesFor(rt: ContainerRuntime, env: Record<string, string>, profiles: Profile[], instance: string): Services {
  const config = loadConfig({ CAPSULE_DATA_DIR: mkdtempSync(join(tmpdir(), 'capsule-test-data-')), ...env });
  return buildServices(config, rt, silentLog, { profiles: ProfileRegistry.fromProfiles(profiles), instance: { name: instance, bootId: 'test' }, storeDir: ':memory:', env: { ...process.env, ...env } });
}

/** Unit tests: every service on a fake runtime, with small test profiles and a short kill grace. */
export function testServices(rt: ContainerRuntime, options: { profiles?: Profile[]; env?: Record<string, string> } = {}): Services {
  return servicesFor(rt, { CAPSULE_KILL_GRACE_MS: '50', ...options.env }, options.profiles ?? [testProfile()], 'unit');
}

/** run_command through the handle API, feeding every chunk of its output to `onOutput` as it arrives. */
export async function runWatched(
  sandbox: SandboxService,
  input: CommandRunInput,
  onOutput: (chunk: OutputChunk) => void,
  options: CallOptions = {},
): Promise<RunResult> {
  await using handle = await sandbox.startCommand(input, options);
  for await (const chunk of handle.output) onOutput(chunk);
  return await handle.wait();
}
