import test from 'ava';
import { InvalidInputError } from '../../server/errors.js';
import { Calculator } from '../../server/devtools/calculator.js';

const calc = new Calculator({ timeoutMs: 5_000 });
test.after.always(async () => {
  await calc.close();
});

test.serial('arithmetic with exact big numbers', async (t) => {
  t.deepEqual(await calc.evaluate('2 + 3 * 4'), { result: '14', type: 'BigNumber' });
  t.deepEqual(await calc.evaluate('0.1 + 0.2'), { result: '0.3', type: 'BigNumber' });
  t.deepEqual(await calc.evaluate('2^200'), { result: '1606938044258990275541962092341162602522202993782792835301376', type: 'BigNumber' });
  t.is((await calc.evaluate('1/3')).result, `0.${'3'.repeat(64)}`);
  t.deepEqual(await calc.evaluate('a = 2; a * 3'), { result: '[6]', type: 'ResultSet' });
  t.deepEqual(await calc.evaluate('sqrt(-4)'), { result: '2i', type: 'Complex' });
});

test.serial('units convert', async (t) => {
  t.deepEqual(await calc.evaluate('5 cm + 2 inch to mm'), { result: '100.8 mm', type: 'Unit' });
  t.regex((await calc.evaluate('10 km/h to m/s')).result, /^2\.777\d+8 m \/ s$/);
});

test.serial('matrices', async (t) => {
  t.deepEqual(await calc.evaluate('[1, 2; 3, 4] * [5; 6]'), { result: '[[17], [39]]', type: 'DenseMatrix' });
  t.deepEqual(await calc.evaluate('det([1, 2; 3, 4])'), { result: '-2', type: 'BigNumber' });
  t.is((await calc.evaluate('inv([1, 2; 3, 4])')).result, '[[-2, 1], [1.5, -0.5]]');
});

test.serial('a syntax error names the position', async (t) => {
  const err = await t.throwsAsync(calc.evaluate('1 +'), { instanceOf: InvalidInputError });
  t.regex(err!.message, /^syntax error: .*\(char 4\)/);
  t.is(err!.details.char, 4);
});

test.serial('an undefined symbol is named', async (t) => {
  await t.throwsAsync(calc.evaluate('x + 1'), { instanceOf: InvalidInputError, message: /undefined symbol x/i });
});

const refused: Array<[string, RegExp]> = [
  ['[].constructor.constructor("return process")()', /syntax error|no access/i],
  ['[].constructor.constructor("return process")', /no access to property "constructor"/i],
  ['cos.constructor("return this")()', /syntax error|no access/i],
  ['cos.constructor("return this")', /no access to method "constructor"/i],
  ['f = cos.constructor; f("return this")', /no access/i],
  ['import({}, {override: true})', /function import is disabled/],
  ['createUnit("foo")', /function createUnit is disabled/],
  ['evaluate("1+1")', /function evaluate is disabled/],
  ['parse("x")', /function parse is disabled/],
  ['compile("x")', /function compile is disabled/],
  ['simplify("x + x")', /function simplify is disabled/],
];
for (const [expression, message] of refused) {
  test.serial(`refuses ${expression}`, async (t) => {
    await t.throwsAsync(calc.evaluate(expression), { instanceOf: InvalidInputError, message });
  });
}

test.serial('a long expression is refused before it runs', async (t) => {
  await t.throwsAsync(calc.evaluate('1+'.repeat(6000) + '1'), { instanceOf: InvalidInputError, message: /12001 characters; the limit is 10000/ });
  await t.throwsAsync(calc.evaluate('   '), { instanceOf: InvalidInputError, message: /must not be empty/ });
});

test.serial('a runaway computation ends at its time budget, and the next call gets a fresh worker', async (t) => {
  const started = Date.now();
  // Measured: factorial(1e6) takes about 0.7 s with 64-digit BigNumbers; 1e7 runs far past a second.
  await t.throwsAsync(calc.evaluate('factorial(10000000)', { timeoutMs: 1_000 }), { instanceOf: InvalidInputError, message: 'expression took longer than 1000 ms' });
  t.true(Date.now() - started < 4_000);
  t.deepEqual(await calc.evaluate('1 + 1'), { result: '2', type: 'BigNumber' });
});

test.serial('a huge allocation hits the heap limit (or the time budget), not the server', async (t) => {
  const started = Date.now();
  // 400 million matrix entries: far beyond the worker's heap.
  await t.throwsAsync(calc.evaluate('ones(20000, 20000)', { timeoutMs: 20_000 }), { instanceOf: InvalidInputError, message: "expression used more than the calculator's 160 MB of memory" });
  t.true(Date.now() - started < 25_000);
  t.deepEqual(await calc.evaluate('2 * 3'), { result: '6', type: 'BigNumber' });
});

test.serial('unbounded recursion ends with a clear error', async (t) => {
  await t.throwsAsync(calc.evaluate('f(x) = f(x); f(1)'), { instanceOf: InvalidInputError, message: /call stack/ });
});

test.serial('a result too large to return is refused', async (t) => {
  const small = new Calculator({ maxResultChars: 100 });
  try {
    await t.throwsAsync(small.evaluate('ones(100, 100)'), { instanceOf: InvalidInputError, message: /the result is \d+ characters; the limit is 100/ });
  } finally {
    await small.close();
  }
});

test.serial('calls queue in order on one worker', async (t) => {
  const results = await Promise.all(['1+1', '2+2', 'x', '3+3'].map((e) => calc.evaluate(e).then((r) => r.result, (err: Error) => err.message)));
  t.deepEqual(results, ['2', '4', 'Undefined symbol x', '6']);
});

test.serial('a per-call timeout is checked', async (t) => {
  t.deepEqual(await calc.evaluate('3 m to cm'), { result: '300 cm', type: 'Unit' });
  await t.throwsAsync(calc.evaluate('1', { timeoutMs: 0 }), { instanceOf: InvalidInputError, message: /timeoutMs/ });
});
