// d3 and d3-flame-graph ship no type declarations (and @types/d3 is not installed): only the calls the UI makes are typed.
declare module 'd3' {
  interface Selection {
    datum(value: unknown): Selection;
    call(fn: (selection: Selection) => void): Selection;
  }
  export function select(element: Element): Selection;
}

declare module 'd3-flame-graph' {
  interface FlameGraphChart {
    (selection: unknown): void;
    width(px: number): FlameGraphChart;
    cellHeight(px: number): FlameGraphChart;
    minFrameSize(px: number): FlameGraphChart;
    transitionDuration(ms: number): FlameGraphChart;
    label(fn: (d: { data: { name: string }; value: number }) => string): FlameGraphChart;
  }
  export default function flamegraph(): FlameGraphChart;
}
