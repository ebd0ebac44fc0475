/**
 * The worker side of the calculator, run with `new Worker(source, { eval: true })`. A code string
 * (not a file) works the same under tsx and in the compiled dist; the worker is CommonJS, and loads
 * mathjs from the absolute path the parent resolved (an eval worker resolves bare names from cwd).
 *
 * Protocol: the worker posts { ready: true } once mathjs is loaded; then for each
 * { id, expression, maxResultChars } it posts { id, ok: true, result, type } or
 * { id, ok: false, kind: 'syntax' | 'eval' | 'result_size', message, char? }.
 */
export const CALCULATOR_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { create, all } = require(workerData.mathjsPath);

// BigNumber with 64 significant digits, so 2^200 and 0.1 + 0.2 come out exact.
const math = create(all, { number: 'BigNumber', precision: 64 });
const evaluate = math.evaluate;

// mathjs security guidance: these let an expression reach the parser or change the instance.
// Disabled after keeping our own reference to evaluate.
const disabled = {};
for (const name of ${JSON.stringify([
  'import', 'createUnit', 'reviver', 'evaluate', 'parse', 'simplify', 'simplifyConstant', 'simplifyCore', 'derivative',
  'resolve', 'compile', 'parser', 'rationalize', 'symbolicEqual', 'leafCount',
])}) {
  disabled[name] = function () { throw new Error('function ' + name + ' is disabled'); };
}
math.import(disabled, { override: true });

// Plain notation up to 65 digits (a 64-digit BigNumber prints in full), exponents beyond.
const FORMAT = { precision: 64, lowerExp: -12, upperExp: 65 };

parentPort.on('message', ({ id, expression, maxResultChars }) => {
  let value;
  try {
    value = evaluate(expression);
  } catch (err) {
    const syntax = err instanceof SyntaxError;
    parentPort.postMessage({ id, ok: false, kind: syntax ? 'syntax' : 'eval', message: String(err && err.message || err), char: syntax ? err.char : undefined });
    return;
  }
  let result;
  try {
    result = typeof value === 'function' ? String(value.syntax || value.name || 'function') : math.format(value, FORMAT);
  } catch (err) {
    parentPort.postMessage({ id, ok: false, kind: 'eval', message: String(err && err.message || err) });
    return;
  }
  if (result.length > maxResultChars) {
    parentPort.postMessage({ id, ok: false, kind: 'result_size', message: 'the result is ' + result.length + ' characters; the limit is ' + maxResultChars });
    return;
  }
  parentPort.postMessage({ id, ok: true, result, type: math.typeOf(value) });
});
parentPort.postMessage({ ready: true });
`;
