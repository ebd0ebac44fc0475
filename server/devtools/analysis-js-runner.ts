/**
 * The JavaScript/TypeScript side of analyze_code: an ESLint flat config and a CommonJS driver, both
 * copied read-only into /capsule. The driver runs `node /capsule/capsule_analyze.cjs <language> <file>`
 * and writes to /capsule-out:
 *   syntax.json         {exit_code, stderr}             (JavaScript: node --check)
 *   tsc.json            {exit_code, output}             (TypeScript: tsc --noEmit --pretty false)
 *   eslint.json         ESLint's own `-f json` report   (also holds the complexity messages)
 *   eslint-status.json  {exit_code, stderr, source_type} or {skipped}
 *   metrics.json        {lines, code_lines}
 * The user's code is parsed, never run.
 */
import { builtinModules } from 'node:module';

export const ESLINT_CONFIG_NAME = 'capsule_eslint.config.cjs';
export const JS_ANALYZER_NAME = 'capsule_analyze.cjs';
export const NODE_SHIM_NAME = 'capsule_node_shim.d.ts';

/**
 * The image has no @types/node, so without this every `process`, `require` or `import 'node:fs'`
 * would be a type error. Node's globals and built-in modules are declared `any`: calls into Node
 * are not type-checked, but the rest of the program is.
 */
export const NODE_SHIM = [
  'declare var process: any, require: any, module: any, exports: any, global: any, __dirname: string, __filename: string;',
  'declare var Buffer: any, setImmediate: any, clearImmediate: any;',
  'type Buffer = any;',
  'declare namespace NodeJS { type Timeout = any; type Immediate = any; type ProcessEnv = Record<string, string | undefined>; type ErrnoException = Error & { code?: string }; }',
  "declare module 'node:*';",
  ...builtinModules.filter((m) => !m.startsWith('_')).map((m) => `declare module '${m}';`),
  '',
].join('\n');

// CommonJS on purpose: ESLint imports the config as ESM-or-CJS by extension, and only `require`
// honours NODE_PATH (where the image keeps @eslint/js and globals); an ESM `import` would not find them.
export const ESLINT_CONFIG = String.raw`'use strict';
const js = require('@eslint/js');
const globals = require('globals');

module.exports = [
  { files: ['**/*.{js,mjs,cjs,ts,mts,cts}'] },
  js.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 'latest',
      // The driver retries a file that is not valid as a module (sloppy-mode scripts) as commonjs.
      sourceType: process.env.CAPSULE_ESLINT_SOURCE_TYPE || 'module',
      globals: { ...globals.browser, ...globals.node },
    },
    rules: {
      // Threshold 0: every function reports its complexity; the parser turns these into metrics.
      complexity: ['warn', 0],
      'no-unused-vars': 'warn',
    },
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },
  {
    // ESLint sees TypeScript with its types stripped; tsc reports undefined and unused names itself
    // (type-only imports would otherwise look unused).
    files: ['**/*.{ts,mts,cts}'],
    rules: { 'no-undef': 'off', 'no-unused-vars': 'off', 'no-redeclare': 'off' },
  },
];
`;

export const JS_ANALYZER = String.raw`'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const OUT = '/capsule-out';
const [language, file] = process.argv.slice(2);
const config = path.join(__dirname, ${JSON.stringify(ESLINT_CONFIG_NAME)});
const source = fs.readFileSync(file, 'utf8');

function write(name, data) {
  fs.writeFileSync(path.join(OUT, name), typeof data === 'string' ? data : JSON.stringify(data));
}

function run(argv, options = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  return { exit_code: r.status, signal: r.signal, stdout: r.stdout || '', stderr: (r.stderr || '').slice(-8000), error: r.error ? r.error.message : undefined };
}

function step(name, fn) {
  try {
    fn();
  } catch (err) {
    write(name + '.error.txt', String((err && err.stack) || err).slice(0, 4000));
  }
}

let syntaxOk = true;

function syntax() {
  const r = run(['node', '--check', file]);
  syntaxOk = r.exit_code === 0;
  write('syntax.json', { exit_code: r.exit_code, stderr: r.stderr, error: r.error });
}

function tsc() {
  // Options close to how run_code runs TypeScript (Node strips the types; import and require both work).
  const r = run([
    'tsc', '--noEmit', '--pretty', 'false', '--strict', '--target', 'es2022', '--module', 'preserve',
    '--skipLibCheck', '--noUnusedLocals', '--allowImportingTsExtensions', file, path.join(__dirname, ${JSON.stringify(NODE_SHIM_NAME)}),
  ]);
  write('tsc.json', { exit_code: r.exit_code, output: r.stdout.slice(0, 1 << 20), stderr: r.stderr, error: r.error });
}

function tsToJs() {
  const { stripTypeScriptTypes, SourceMap } = require('node:module');
  try {
    // Types become spaces, so ESLint's lines and columns match the original file.
    return { code: stripTypeScriptTypes(source, { mode: 'strip' }), map: null };
  } catch {
    // Enums, namespaces and parameter properties need a real transform, which moves code around:
    // lint its output and map positions back through its source map.
    const code = stripTypeScriptTypes(source, { mode: 'transform', sourceMap: true, sourceUrl: file });
    const m = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(code);
    if (!m) throw new Error('the TypeScript transform produced no source map');
    return { code, map: new SourceMap(JSON.parse(Buffer.from(m[1], 'base64').toString('utf8'))) };
  }
}

function remap(map) {
  const reportFile = path.join(OUT, 'eslint.json');
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
  for (const f of report) {
    f.source = undefined;
    f.messages = f.messages.flatMap((m) => {
      if (!m.line) return [m];
      const o = map.findOrigin(m.line, m.column || 1);
      if (!o || !o.lineNumber) return [];
      return [{ ...m, line: o.lineNumber, column: o.columnNumber, endLine: undefined, endColumn: undefined }];
    });
  }
  fs.writeFileSync(reportFile, JSON.stringify(report));
}

function eslint() {
  let input = source;
  let map = null;
  if (language === 'typescript') {
    try {
      ({ code: input, map } = tsToJs());
    } catch (err) {
      write('eslint-status.json', { skipped: 'ESLint needs the TypeScript without its types, and removing them failed: ' + String((err && err.message) || err).split('\n')[0] });
      return;
    }
  }
  const lint = (sourceType) => {
    const r = run(['eslint', '-c', config, '-f', 'json', '-o', path.join(OUT, 'eslint.json'), '--stdin', '--stdin-filename', file], {
      input,
      // ESLint ignores files outside its base path, the working directory when -c is given.
      cwd: path.dirname(file),
      env: { ...process.env, CAPSULE_ESLINT_SOURCE_TYPE: sourceType },
    });
    return { exit_code: r.exit_code, stderr: r.stderr, error: r.error, source_type: sourceType };
  };
  let status = lint('module');
  if (language === 'javascript' && syntaxOk && status.exit_code === 1 && hasFatal()) status = lint('commonjs');
  if (map && status.exit_code !== 2 && fs.existsSync(path.join(OUT, 'eslint.json'))) {
    remap(map);
    status.transformed = true;
  }
  write('eslint-status.json', status);
}

function hasFatal() {
  try {
    const report = JSON.parse(fs.readFileSync(path.join(OUT, 'eslint.json'), 'utf8'));
    return report.some((f) => f.messages.some((m) => m.fatal));
  } catch {
    return false;
  }
}

function metrics() {
  const lines = source === '' ? 0 : source.split(/\r\n|\r|\n/).length - (/(\r\n|\r|\n)$/.test(source) ? 1 : 0);
  // Code lines: lines holding at least one token. The TypeScript parser's tokens (not a regex) tell
  // comments from code, also inside template strings and regular expressions.
  const ts = require('typescript');
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, language === 'typescript' ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const code = new Set();
  const visit = (node) => {
    if (node.kind >= ts.SyntaxKind.FirstJSDocNode && node.kind <= ts.SyntaxKind.LastJSDocNode) return;
    const kids = node.getChildren(sf);
    if (kids.length === 0 && node.kind !== ts.SyntaxKind.EndOfFileToken && node.kind !== ts.SyntaxKind.SyntaxList) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      for (let l = start; l <= end; l++) code.add(l);
      return;
    }
    kids.forEach(visit);
  };
  visit(sf);
  write('metrics.json', { lines, code_lines: code.size });
}

if (language === 'typescript') step('tsc', tsc);
else step('syntax', syntax);
step('eslint', eslint);
step('metrics', metrics);
`;
