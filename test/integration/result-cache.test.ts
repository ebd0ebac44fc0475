import test from 'ava';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import { InvalidInputError } from '../../server/errors.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { SandboxService } from '../../server/sandbox/sandbox-service.js';
import { ResultCache } from '../../server/store/result-cache.js';
import { DEFAULT_SANDBOX_IMAGE } from '../../server/version.js';
import { realServices, requireEngine, runtime, shippedProfile } from '../helpers/engine.js';
import { silentLog } from '../helpers/fixtures.js';

test.before(requireEngine);

function cachedService(image = DEFAULT_SANDBOX_IMAGE) {
  const instance = { name: 'itest', bootId: 'cache' };
  return new SandboxService({
    runtime,
    profiles: ProfileRegistry.fromProfiles([shippedProfile({ image })]),
    config: loadConfig({}),
    log: silentLog,
    instance,
    cache: new ResultCache(new Database(':memory:'), 60_000),
  });
}

test('a repeated call is replayed from the cache; any change of input is a miss', async (t) => {
  const service = cachedService();
  const first = await service.runCode({ language: 'python', code: 'import random; print(random.random())', cache: true });
  t.false(first.cached);
  const second = await service.runCode({ language: 'python', code: 'import random; print(random.random())', cache: true });
  t.true(second.cached);
  t.is(second.stdout, first.stdout, 'the stored result, not a new run');
  t.is(second.run_id, first.run_id);
  const other = await service.runCode({ language: 'python', code: 'import random; print(random.random())', cache: true, env: { X: '1' } });
  t.false(other.cached);
  t.not(other.stdout, first.stdout);
  const uncached = await service.runCode({ language: 'python', code: 'import random; print(random.random())' });
  t.is(uncached.cached, undefined);
  const byOther = await service.runCode({ language: 'python', code: 'import random; print(random.random())', cache: true }, { owner: 'someone-else' });
  t.false(byOther.cached, 'owners do not share cache entries');
});

test('a new image (same tag) invalidates the cache', async (t) => {
  const tag = 'capsule/sandbox-cachetest:latest';
  const rebuild = (label: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'capsule-cache-image-'));
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${DEFAULT_SANDBOX_IMAGE}\nLABEL capsule.cachetest=${label}\n`);
    execFileSync('docker', ['build', '-q', '-t', tag, dir]);
  };
  try {
    rebuild('one');
    const service = cachedService(tag);
    t.false((await service.runCommand({ command: 'echo same', cache: true })).cached);
    t.true((await service.runCommand({ command: 'echo same', cache: true })).cached);
    rebuild('two');
    t.false((await service.runCommand({ command: 'echo same', cache: true })).cached, 'the image id is part of the key');
  } finally {
    execFileSync('docker', ['rmi', '-f', tag]);
  }
});

test('the cache is refused for workspaces and processes', async (t) => {
  const { workspaces } = realServices();
  const service = cachedService();
  await t.throwsAsync(service.runCommand({ command: 'true', cache: true }, { mode: 'process' }), { instanceOf: InvalidInputError, message: /background processes/ });
  const ws = await workspaces.create('cache-test');
  try {
    const withWs = new SandboxService({
      runtime,
      profiles: ProfileRegistry.fromProfiles([shippedProfile()]),
      config: loadConfig({}),
      log: silentLog,
      instance: { name: 'itest', bootId: 'cache' },
      workspaces,
      cache: new ResultCache(new Database(':memory:'), 60_000),
    });
    await t.throwsAsync(withWs.runCommand({ command: 'true', cache: true, workspace_id: ws.workspace_id }, { owner: 'cache-test' }), { message: /workspace/ });
  } finally {
    await workspaces.delete('cache-test', ws.workspace_id);
  }
});
