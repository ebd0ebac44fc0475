import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { projectRoot } from '../../server/version.js';

// The import graph has no back-up arrows: read every server/ file's imports and check the layers.

/** Every .ts file under server/, as repo-relative posix paths. */
function serverFiles(dir = join(projectRoot, 'server')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return serverFiles(path);
    return e.name.endsWith('.ts') ? [relative(projectRoot, path).split('\\').join('/')] : [];
  });
}

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

/** What a file imports: repo paths (.js specifiers mapped to their .ts source) and bare package names. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(projectRoot, file), 'utf8');
  return [...text.matchAll(SPECIFIER)].map((m) => {
    const spec = (m[1] ?? m[2] ?? m[3])!;
    if (!spec.startsWith('.')) return spec;
    return posix.normalize(posix.join(dirname(file), spec)).replace(/\.js$/, '.ts');
  });
}

const graph = new Map(serverFiles().map((f) => [f, importsOf(f)]));
const COMPOSITION_ROOT = new Set(['server/main.ts', 'server/services.ts']);

function offenders(from: (file: string) => boolean, to: (target: string) => boolean): string[] {
  return [...graph].flatMap(([file, targets]) => (from(file) ? targets.filter(to).map((t) => `${file} -> ${t}`) : []));
}

test('the scanner sees the imports it checks', (t) => {
  t.true(graph.size > 50, `${graph.size} files`);
  t.true(graph.get('server/main.ts')?.includes('server/runtime/docker/docker-runtime.ts'), 'main.ts builds the Docker runtime');
  t.true(graph.get('server/sandbox/container/launcher-protocol.ts')?.includes('server/runtime/frames.ts'));
  t.true(graph.get('server/runtime/docker/docker-runtime.ts')?.includes('server/runtime/container-runtime.ts'));
});

test('only the composition root imports the Docker implementation from outside runtime/docker/', (t) => {
  const inDocker = (f: string) => f.startsWith('server/runtime/docker/');
  t.deepEqual(offenders((f) => !inDocker(f) && !COMPOSITION_ROOT.has(f), inDocker), []);
});

test('dockerode is imported only under runtime/docker/', (t) => {
  t.deepEqual(offenders((f) => !f.startsWith('server/runtime/docker/'), (target) => target === 'dockerode' || target === 'docker-modem'), []);
});

test('the runtime contract layer imports nothing above it (only runtime/ and the typed errors)', (t) => {
  const above = (target: string) => target.startsWith('server/') && !target.startsWith('server/runtime/') && target !== 'server/errors.ts';
  t.deepEqual(offenders((f) => f.startsWith('server/runtime/'), above), []);
});

test('store/ imports nothing from sandbox/', (t) => {
  t.deepEqual(offenders((f) => f.startsWith('server/store/'), (target) => target.startsWith('server/sandbox/')), []);
});
