import { EngineUnavailableError, ImageMissingError } from '../../../server/errors.js';
import { type ContractSuite } from '../contract-case.js';

/** An engine that is gone, hangs, or lacks the image. */
export function engineFailuresClauses({ test, begin, programs, options }: ContractSuite): void {
  test('an unreachable engine fails every call with EngineUnavailableError', async (t) => {
    const { spec } = begin(t);
    const rt = options.unreachableRuntime();
    for (const call of [() => rt.info(), () => rt.list({}), () => rt.create(spec(programs.exit(0))), () => rt.inspect('x'), () => rt.listVolumes({})]) {
      await t.throwsAsync(call(), { instanceOf: EngineUnavailableError });
    }
  });

  test('a request the engine never answers fails at its request timeout with EngineUnavailableError naming the call; the caller can abort it sooner', async (t) => {
    const { spec } = begin(t);
    const silent = await options.silentRuntime(200);
    t.teardown(() => silent.close());
    const err = await t.throwsAsync(silent.runtime.inspect('x'), { instanceOf: EngineUnavailableError });
    t.regex(err!.message, /did not answer `inspect` within 200 ms/);
    t.like(err!.details, { call: 'inspect', timeout_ms: 200 });
    const controller = new AbortController();
    const reason = new Error('no longer needed');
    setTimeout(() => controller.abort(reason), 20);
    t.is(await t.throwsAsync(silent.runtime.create(spec(programs.exit(0)), { signal: controller.signal })), reason);
  });

  test('create with an image the engine does not have is ImageMissingError naming the image, and creates nothing', async (t) => {
    const { rt, labels, spec } = begin(t);
    const err = await t.throwsAsync(rt.create(spec(programs.exit(0), { image: options.missingImage })), { instanceOf: ImageMissingError });
    t.true(err!.message.includes(options.missingImage), err!.message);
    t.deepEqual(await rt.list(labels), []);
    t.is(await rt.inspectImage(options.missingImage), null);
    t.truthy((await rt.inspectImage(options.image))?.id);
  });
}
