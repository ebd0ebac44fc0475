import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { projectRoot } from '../../server/version.js';

// The house rules on size (STYLE.md): files under 300 lines, functions under 60, in server/.
const MAX_FILE_LINES = 300;
const MAX_FUNCTION_LINES = 60;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const files = sources(join(projectRoot, 'server'));

/** Every function-like node longer than the limit: file:line name (lines). */
function longFunctions(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      const name = (node as { name?: ts.Node }).name?.getText(file) ?? '(anonymous)';
      if (lines > MAX_FUNCTION_LINES) found.push(`${relative(projectRoot, path)}:${start + 1} ${name} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

test(`no file in server/ is over ${MAX_FILE_LINES} lines`, (t) => {
  t.true(files.length > 100);
  const long = files.map((f) => [relative(projectRoot, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > MAX_FILE_LINES);
  t.deepEqual(long, []);
});

test(`no function in server/ is over ${MAX_FUNCTION_LINES} lines (the composition root included)`, (t) => {
  t.deepEqual(files.flatMap(longFunctions), []);
});
