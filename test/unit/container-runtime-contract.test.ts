import test from 'ava';
import { containerRuntimeContract } from '../contract/container-runtime.contract.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { fakePrograms } from '../helpers/fake-programs.js';

// The fake engine held to the runtime contract, so unit tests run on something that behaves like the
// real engine (test/integration/container-runtime-contract.test.ts holds Docker to the same clauses).

const MISSING = 'capsule/no-such-image:0';

containerRuntimeContract(
  test,
  () => {
    const runtime = new FakeRuntime();
    runtime.absentImages.add(MISSING);
    return runtime;
  },
  {
    image: 'capsule/sandbox:test',
    missingImage: MISSING,
    labels: { 'capsule.contract': 'unit' },
    programs: fakePrograms,
    unreachableRuntime: () => Object.assign(new FakeRuntime(), { engineDown: true }),
    silentRuntime: async (timeoutMs) => ({ runtime: Object.assign(new FakeRuntime({ requestTimeoutMs: timeoutMs }), { silent: true }), close: async () => undefined }),
  },
);
