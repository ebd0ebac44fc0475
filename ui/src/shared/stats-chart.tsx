import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { bytes } from './format.js';
import type { RunStats } from './types.js';

// Series colours; the browser tests look for the CPU line's colour on the canvas.
export const CPU_COLOR = 'rgb(37, 99, 235)';
const MEMORY_COLOR = 'rgb(22, 163, 74)';
const LIMIT_COLOR = 'rgb(220, 38, 38)';

type Samples = RunStats['samples'];

function columns(samples: Samples, limit: number | null): uPlot.AlignedData {
  const t = samples.map((s) => s.t_ms / 1000);
  return [t, samples.map((s) => s.cpu_pct), samples.map((s) => s.memory_bytes), samples.map(() => limit)];
}

function options(width: number, limit: number | null): uPlot.Options {
  return {
    width,
    height: 220,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false }, pct: { range: (_u, _min, max) => [0, Math.max(100, Math.ceil(max / 50) * 50)] }, mem: { range: (_u, _min, max) => [0, Math.max(max, limit ?? 0) * 1.1 || 1] } },
    axes: [
      { label: 'seconds', size: 40 },
      { scale: 'pct', label: 'CPU %', size: 50 },
      { scale: 'mem', side: 1, label: 'memory', size: 70, values: (_u, ticks) => ticks.map((v) => bytes(v)), grid: { show: false } },
    ],
    series: [
      { label: 's' },
      { label: 'CPU %', scale: 'pct', stroke: CPU_COLOR, width: 2, value: (_u, v) => (v === null ? '–' : `${v.toFixed(1)} %`) },
      { label: 'memory', scale: 'mem', stroke: MEMORY_COLOR, width: 2, value: (_u, v) => bytes(v) },
      { label: 'memory limit', scale: 'mem', stroke: LIMIT_COLOR, dash: [6, 4], width: 1, show: limit !== null, value: (_u, v) => bytes(v) },
    ],
  };
}

/**
 * CPU % and memory over the run (the launcher's ~100 ms samples, at most ~120), with the profile's
 * memory limit as a dashed line. uPlot draws on a canvas; live updates replace the data in place.
 */
export function StatsChart({ stats, memoryLimit }: { stats: RunStats | null; memoryLimit: number | null }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const samples = stats?.samples ?? [];

  useEffect(() => {
    const el = box.current!;
    const plot = new uPlot(options(Math.max(280, el.clientWidth), memoryLimit), columns(samples, memoryLimit), el);
    chart.current = plot;
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
      chart.current = null;
    };
  }, [memoryLimit]);

  useEffect(() => {
    chart.current?.setData(columns(samples, memoryLimit));
  }, [samples, memoryLimit]);

  return (
    <figure class="chart">
      <div ref={box} class="chart-canvas" data-samples={samples.length} />
      <figcaption>
        {samples.length === 0 ? 'No samples yet (the launcher reports about once a second).' : `${samples.length} samples`}
        {stats ? ` · CPU ${stats.cpu_ms ?? '–'} ms · peak memory ${bytes(stats.memory_peak_bytes)}${memoryLimit ? ` of ${bytes(memoryLimit)}` : ''} · ${stats.pids_peak ?? '–'} processes at most` : ''}
      </figcaption>
    </figure>
  );
}
