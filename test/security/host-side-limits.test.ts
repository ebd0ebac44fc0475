import test from 'ava';
import { InvalidInputError } from '../../server/errors.js';
import type { ContainerSpec } from '../../server/runtime/container-runtime.js';
import { DockerRuntime } from '../../server/runtime/docker/docker-runtime.js';
import { realServices, requireEngine, shippedProfile } from '../helpers/engine.js';

// Oversized or malformed input is refused on the host: no container is ever created for it.
test.before(requireEngine);

class CountingRuntime extends DockerRuntime {
  creates = 0;
  override create(spec: ContainerSpec): Promise<string> {
    this.creates++;
    return super.create(spec);
  }
}
const rt = new CountingRuntime();
const service = realServices({ profiles: [shippedProfile()], runtime: rt }).sandbox;

const hostile: Array<[string, () => Promise<unknown>, RegExp]> = [
  ['huge env value', () => service.runCommand({ command: 'env', env: { BIG: 'x'.repeat(100_000) } }), /env is \d+ bytes; the limit is 32768/],
  ['too many env vars', () => service.runCommand({ command: 'env', env: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`V${i}`, '1'])) }), /env has 100 variables/],
  ['bad env name', () => service.runCommand({ command: 'env', env: { 'LD_PRELOAD=/x;': '1' } }), /env name/],
  ['huge stdin', () => service.runCommand({ command: 'cat', stdin: 'x'.repeat(2 * 1024 * 1024) }), /stdin is 2097152 bytes; the limit is 1048576/],
  ['huge code', () => service.runCode({ language: 'python', code: '#'.repeat(2 * 1024 * 1024) }), /code is \d+ bytes/],
  ['NUL in command', () => service.runCommand({ command: 'echo a\0b' }), /NUL/],
  ['workdir escape', () => service.runCommand({ command: 'pwd', workdir: '/workspace/../../etc' }), /inside \/workspace or \/tmp/],
  ['loosening memory', () => service.runCommand({ command: 'true', limits: { memory_mb: 100_000 } }), /exceeds profile "default".*may only lower/],
  ['loosening the timeout', () => service.runCommand({ command: 'true', timeout_ms: 3_600_000 }), /timeout_ms must be an integer from 1 to 300000/],
];

for (const [name, call, message] of hostile) {
  test(`${name} is rejected before any container exists`, async (t) => {
    const before = rt.creates;
    const err = await t.throwsAsync(call(), { instanceOf: InvalidInputError });
    t.regex(err!.message, message);
    t.is(rt.creates, before);
  });
}
