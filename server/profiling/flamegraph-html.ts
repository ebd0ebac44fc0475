import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A flame graph node: d3-flame-graph's input (value = total of the subtree). */
export interface FlameNode {
  name: string;
  value: number;
  children: FlameNode[];
}

let assets: { d3: string; flamegraph: string; css: string } | null = null;

/** The folder of an installed package (its `exports` hide the dist files from require.resolve). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${name} package`);
    dir = parent;
  }
  return dir;
}

/** d3 and d3-flame-graph's browser bundles, read once from their npm packages. */
function libraryAssets() {
  if (!assets) {
    const d3 = packageDir('d3');
    const fg = packageDir('d3-flame-graph');
    assets = {
      d3: readFileSync(join(d3, 'dist', 'd3.min.js'), 'utf8'),
      flamegraph: readFileSync(join(fg, 'dist', 'd3-flamegraph.umd.min.js'), 'utf8'),
      css: readFileSync(join(fg, 'dist', 'd3-flamegraph.css'), 'utf8'),
    };
  }
  return assets;
}

/** Build a tree from folded stacks ("a;b;c" → weight). */
export function treeFromFolded(stacks: Array<[string, number]>, rootName = 'all'): FlameNode {
  const root: FlameNode = { name: rootName, value: 0, children: [] };
  for (const [stack, weight] of stacks) {
    if (!(weight > 0)) continue;
    let node = root;
    node.value += weight;
    for (const frame of stack.split(';')) {
      let child = node.children.find((c) => c.name === frame);
      if (!child) {
        child = { name: frame, value: 0, children: [] };
        node.children.push(child);
      }
      child.value += weight;
      node = child;
    }
  }
  return root;
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/**
 * A self-contained flame graph page (works offline): the maintained d3-flame-graph renderer and d3,
 * inlined, with the profile's tree as data. No hand-written rendering.
 */
export function flamegraphHtml(title: string, root: FlameNode, unit: string): string {
  const { d3, flamegraph, css } = libraryAssets();
  // JSON inside <script>: escape "<" so "</script>" in a function name cannot end the element.
  const data = JSON.stringify(root).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${css}
body{font-family:system-ui,sans-serif;margin:16px}#chart{width:100%}</style></head>
<body><h3>${escapeHtml(title)}</h3><p>Width is ${escapeHtml(unit)}. Click a frame to zoom; click the root to reset.</p>
<div id="chart"></div>
<script>${d3}</script>
<script>${flamegraph}</script>
<script>
const data = ${data};
// The UMD bundle's global is the module object; its default export is the chart factory.
const chart = (flamegraph.default || flamegraph.flamegraph)().width(Math.max(600, document.body.clientWidth - 32)).cellHeight(18).minFrameSize(1)
  .label(d => d.data.name + ' (' + (100 * d.value / data.value).toFixed(1) + '%)');
d3.select('#chart').datum(data).call(chart);
</script></body></html>
`;
}
