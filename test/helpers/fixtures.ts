import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ProfilingService } from '../../server/profiling/profiling-service.js';
import { SelfProfiler } from '../../server/profiling/self-profiler.js';
import { ArtifactStore } from '../../server/store/artifact-store.js';
import { CodeGenerator } from '../../server/devtools/code-generator.js';
import { ContextStore } from '../../server/devtools/context-store.js';
import { DevToolsService } from '../../server/devtools/devtools-service.js';
import { loadConfig, type Config } from '../../server/config.js';
import type { Profile } from '../../server/sandbox/profiles.js';
import { ProfileRegistry } from '../../server/sandbox/profiles.js';
import { SandboxService } from '../../server/sandbox/sandbox-service.js';
import type { ContainerRuntime } from '../../server/runtime/container-runtime.js';
import type { ToolDeps } from '../../server/mcp/tool-context.js';
import { ProcessManager } from '../../server/sandbox/process-manager.js';
import { RunStore } from '../../server/store/run-store.js';
import { WorkspaceService } from '../../server/sandbox/workspace-service.js';
import { BoundedVolumes } from '../../server/sandbox/bounded-volumes.js';

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

export function testService(
  runtime: ContainerRuntime,
  options: { profiles?: Profile[]; env?: Record<string, string>; store?: RunStore; workspaces?: WorkspaceService; volumes?: BoundedVolumes } = {},
) {
  const profiles = ProfileRegistry.fromProfiles(options.profiles ?? [testProfile()]);
  return new SandboxService({
    runtime,
    profiles,
    config: testConfig(options.env),
    log: silentLog,
    instance: { name: 'unit', bootId: 'test' },
    ...(options.store ? { store: options.store } : {}),
    ...(options.workspaces ? { workspaces: options.workspaces } : {}),
    ...(options.volumes ? { volumes: options.volumes } : {}),
  });
}

/** Quota'd volumes on a fake runtime (its FakeVolumeHelper plays the btrfs side). */
export function testVolumes(runtime: ContainerRuntime, options: { required?: boolean } = {}): BoundedVolumes {
  return new BoundedVolumes({ runtime, log: silentLog, instance: { name: 'unit', bootId: 'test' }, image: 'capsule/sandbox:test', root: '/var/lib/capsule/volumes', required: options.required ?? false });
}

/** Every service a tool needs, on a given runtime, with an in-memory store. */
export function testToolDeps(runtime: ContainerRuntime, options: { profiles?: Profile[]; env?: Record<string, string> } = {}): ToolDeps {
  const store = RunStore.open(':memory:', 'unit');
  const config = testConfig(options.env);
  const volumes = testVolumes(runtime);
  const workspaces = new WorkspaceService({ runtime, log: silentLog, instance: { name: 'unit', bootId: 'test' }, config, volumes });
  const sandbox = testService(runtime, { ...options, store, workspaces, volumes });
  const processes = new ProcessManager({ sandbox, log: silentLog, retainBytes: 1 << 20, resultTtlMs: 60_000 });
  const artifacts = new ArtifactStore(mkdtempSync(join(tmpdir(), 'capsule-artifacts-')), 1 << 24);
  const profiling = new ProfilingService({ sandbox, artifacts, log: silentLog, maxArtifactBytes: 1 << 24 });
  const context = new ContextStore(store.database, { maxValueBytes: 1 << 16, maxOwnerBytes: 1 << 20, maxKeysPerOwner: 100 });
  return {
    sandbox,
    processes,
    store,
    workspaces,
    profiling,
    selfProfiler: new SelfProfiler(artifacts),
    artifacts,
    devtools: new DevToolsService({ sandbox, workspaces }),
    codegen: new CodeGenerator(sandbox),
    context,
    modelClient: null,
    log: silentLog,
  };
}
