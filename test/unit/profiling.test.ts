import test from 'ava';
import { flamegraphHtml, treeFromFolded } from '../../server/profiling/flamegraph-html.js';
import { analyzeCpuProfile } from '../../server/profiling/self-profiler.js';
import { parseV8FrameName, topFromTickTree } from '../../server/profiling/top-frames.js';
import { toRunStats } from '../../server/sandbox/runs/run-stats.js';

test('V8 frame names parse into function, file and line', (t) => {
  t.deepEqual(parseV8FrameName('fib /capsule/main.js:1:13 [JS]'), { function: 'fib', file: '/capsule/main.js', line: 1 });
  t.deepEqual(parseV8FrameName('/usr/lib/libc.so.6 [SHARED_LIB]'), { function: '/usr/lib/libc.so.6', file: '', line: 0 });
});

test('top frames: self from ticks; a recursive function is counted once in its total', (t) => {
  const tree = {
    name: 'all', value: 100, children: [
      { name: 'main a.js:1:1 [JS]', value: 100, top: 10, children: [
        { name: 'fib a.js:2:1 [JS]', value: 90, top: 30, children: [{ name: 'fib a.js:2:1 [JS]', value: 60, top: 60 }] },
      ] },
    ],
  };
  const top = topFromTickTree(tree);
  t.like(top[0], { function: 'fib', self_pct: 90, total_pct: 90 });
  t.like(top[1], { function: 'main', self_pct: 10, total_pct: 100 });
});

test('folded stacks become a tree; the page inlines d3-flame-graph and escapes the data', (t) => {
  const root = treeFromFolded([['a;b', 3], ['a;c', 1], ['a', 2]]);
  t.is(root.value, 6);
  t.is(root.children[0]!.value, 6);
  t.deepEqual(root.children[0]!.children.map((c) => [c.name, c.value]), [['b', 3], ['c', 1]]);
  const html = flamegraphHtml('t', treeFromFolded([['</script><b>', 1]]), 'samples');
  t.notRegex(html, /<\/script><b>/);
  t.regex(html, /flamegraph\.default/);
  t.true(html.length > 100_000, 'd3 and d3-flame-graph are inlined');
});

test('cpuprofile analysis: self time per function and a tree', (t) => {
  const cf = (functionName: string, lineNumber: number) => ({ functionName, url: 'file:///app/x.js', lineNumber, columnNumber: 0, scriptId: '1' });
  const { top, tree, samples } = analyzeCpuProfile({
    nodes: [
      { id: 1, callFrame: cf('(root)', 0), hitCount: 0, children: [2] },
      { id: 2, callFrame: cf('work', 4), hitCount: 7, children: [3] },
      { id: 3, callFrame: cf('inner', 9), hitCount: 3 },
    ],
    startTime: 0, endTime: 10, samples: [], timeDeltas: [],
  });
  t.is(samples, 10);
  t.like(top[0], { function: 'work', line: 5, self_pct: 70 });
  t.is(tree.value, 10);
});

test('launcher samples become CPU percentages, at most 120', (t) => {
  const samples: Array<[number, number, number]> = Array.from({ length: 240 }, (_, i) => [i * 100, i * 50e6, 1000 + i]);
  const s = toRunStats({ final: true, elapsed_ms: 24000, cpu_ns: 12e9, memory_bytes: 0, memory_peak_bytes: 5000, pids: 1, pids_peak: 4, blkio_read_bytes: 0, blkio_write_bytes: 0, oom_kills: 0, samples });
  t.is(s.cpu_ms, 12000);
  t.true(s.samples.length <= 120);
  t.is(s.samples.at(-1)!.cpu_pct, 50);
});
