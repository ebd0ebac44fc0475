import type { z } from 'zod';
import type { topFrameObject } from '../schemas/profiling-outputs.js';

/** One line of a profile's "top functions by self time". */
export type TopFrame = z.infer<typeof topFrameObject>;

/** A node of 0x's --tree-debug stacks (ticks): value = subtree ticks, top = ticks in this frame itself. */
export interface TickNode {
  name: string;
  value: number;
  top?: number;
  children?: TickNode[];
}

const round = (x: number) => Math.round(x * 100) / 100;

/** "fib /capsule/main.js:1:13 [JS]" → function, file, line; other shapes keep the whole name. */
export function parseV8FrameName(name: string): { function: string; file: string; line: number } {
  const m = /^(.*?) (\S+?):(\d+):\d+(?: \[\w+\])?$/.exec(name);
  if (m) return { function: m[1] || '(anonymous)', file: m[2]!, line: Number(m[3]) };
  return { function: name.replace(/ \[\w+\]$/, ''), file: '', line: 0 };
}

/**
 * Top frames by self time from a tick tree. A function's total counts each stack once even when it
 * recurses (nodes under an ancestor of the same name are not added again).
 */
export function topFromTickTree(root: TickNode, limit = 20): TopFrame[] {
  const all = root.value || 1;
  const byName = new Map<string, { self: number; total: number }>();
  const walk = (node: TickNode, ancestors: Set<string>) => {
    const entry = byName.get(node.name) ?? { self: 0, total: 0 };
    entry.self += node.top ?? 0;
    if (!ancestors.has(node.name)) entry.total += node.value;
    byName.set(node.name, entry);
    const next = new Set(ancestors).add(node.name);
    for (const child of node.children ?? []) walk(child, next);
  };
  for (const child of root.children ?? []) walk(child, new Set());
  return [...byName.entries()]
    .sort((a, b) => b[1].self - a[1].self || b[1].total - a[1].total)
    .slice(0, limit)
    .map(([name, v]) => ({ ...parseV8FrameName(name), self_pct: round((100 * v.self) / all), total_pct: round((100 * v.total) / all) }));
}

/** A flame tree (d3 shape) from a tick tree: drop the helper fields. */
export function flameFromTicks(node: TickNode): { name: string; value: number; children: ReturnType<typeof flameFromTicks>[] } {
  return { name: node.name, value: node.value, children: (node.children ?? []).map(flameFromTicks) };
}
