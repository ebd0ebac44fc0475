import test from 'ava';
import { extractCode } from '../../server/devtools/code-extract.js';

const answer = [
  'Install it first:',
  '',
  '```bash',
  'pip install requests',
  '```',
  '',
  'Then run:',
  '',
  '```python',
  'import requests',
  'print(requests.get("http://127.0.0.1").status_code)',
  '```',
  '',
  'Or in Node:',
  '',
  '```js',
  'console.log(1);',
  '```',
].join('\n');

test('the first block tagged with the language wins over earlier blocks', (t) => {
  t.is(extractCode(answer, 'python'), 'import requests\nprint(requests.get("http://127.0.0.1").status_code)');
  t.is(extractCode(answer, 'javascript'), 'console.log(1);');
});

test('aliases match both ways', (t) => {
  t.is(extractCode('```py\nx = 1\n```', 'python'), 'x = 1');
  t.is(extractCode('```python3\nx = 1\n```', 'py'), 'x = 1');
  t.is(extractCode('```node\nrun()\n```', 'javascript'), 'run()');
  t.is(extractCode('```ts\nlet a: number = 1;\n```', 'typescript'), 'let a: number = 1;');
  t.is(extractCode('```TypeScript\nlet a = 1;\n```', 'ts'), 'let a = 1;');
  t.is(extractCode('```{.python}\npass\n```', 'python'), 'pass');
});

test('info strings with attributes still match', (t) => {
  t.is(extractCode('```sh\nls\n```\n\n```python title="main.py"\nprint(2)\n```', 'python'), 'print(2)');
});

test('without a tagged block, the first fenced block of any kind', (t) => {
  t.is(extractCode(answer, 'typescript'), 'pip install requests');
  t.is(extractCode('text\n\n```\nplain()\n```\n', 'python'), 'plain()');
  t.is(extractCode('~~~\ntilde fence\n~~~', 'javascript'), 'tilde fence');
});

test('no fenced block gives null; indented code does not count', (t) => {
  t.is(extractCode('Just prose, with `inline code`.', 'python'), null);
  t.is(extractCode('Example:\n\n    indented = True\n', 'python'), null);
  t.is(extractCode('', 'python'), null);
});

test('blocks nested in lists and quotes are found, without their indentation', (t) => {
  t.is(extractCode('1. Save this:\n\n   ```python\n   print("in a list")\n   ```\n', 'python'), 'print("in a list")');
  t.is(extractCode('> ```js\n> quoted()\n> ```\n', 'javascript'), 'quoted()');
});

test('an unclosed fence (a cut-off answer) still yields its code', (t) => {
  t.is(extractCode('Here you go:\n\n```python\ndef f():\n    return 1\n', 'python'), 'def f():\n    return 1');
});

test('code with backticks inside a longer fence stays whole', (t) => {
  t.is(extractCode('````markdown\n```js\nx\n```\n````', 'javascript'), '```js\nx\n```');
});
