import { select } from 'd3';
import flamegraph from 'd3-flame-graph';
import { useEffect, useRef } from 'preact/hooks';
import type { FlameNode, ProfileJson } from './types.js';

/**
 * A profile's flame graph, drawn by d3-flame-graph (the library Capsule's own flamegraph.html pages
 * use) from profile.json's tree; without a tree (an older profile), the top functions table alone.
 */
export function FlameGraph({ profile }: { profile: ProfileJson }) {
  const box = useRef<HTMLDivElement>(null);
  const tree = profile.tree;
  useEffect(() => {
    const el = box.current;
    if (!el || !tree) return;
    el.replaceChildren();
    const total = tree.value || 1;
    const chart = flamegraph()
      .width(Math.max(300, el.clientWidth))
      .cellHeight(18)
      .minFrameSize(1)
      .transitionDuration(0)
      .label((d) => `${d.data.name} (${((100 * d.value) / total).toFixed(1)}%)`);
    select(el).datum(tree).call(chart);
    return () => el.replaceChildren();
  }, [tree]);
  return (
    <div class="flame">
      {tree ? <div ref={box} class="flame-chart" data-frames={countFrames(tree)} /> : <p class="muted">This profile has no call tree; top functions only.</p>}
      <table class="top-frames">
        <thead>
          <tr>
            <th>self %</th>
            <th>total %</th>
            <th>function</th>
          </tr>
        </thead>
        <tbody>
          {profile.top.slice(0, 10).map((f) => (
            <tr key={`${f.function}${f.file}${f.line}`}>
              <td>{f.self_pct.toFixed(1)}</td>
              <td>{f.total_pct.toFixed(1)}</td>
              <td>
                <code>{f.function}</code> <span class="muted">{f.file ? `${f.file}:${f.line}` : ''}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function countFrames(node: FlameNode): number {
  return 1 + (node.children ?? []).reduce((n, c) => n + countFrames(c), 0);
}
