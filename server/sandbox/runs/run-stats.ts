import type { z } from 'zod';
import type { runStatsObject } from '../../schemas/run-outputs.js';
import type { LauncherStats } from '../container/launcher-protocol.js';

/** What a run cost, as every result reports it (the result schema's `stats`). */
export type RunStats = z.infer<typeof runStatsObject>;

const MAX_SAMPLES = 120;

/** No reading arrived (the container died before the launcher's first report): every figure unknown. */
export const EMPTY_STATS: RunStats = { cpu_ms: null, memory_peak_bytes: null, pids_peak: null, blkio_read_bytes: null, blkio_write_bytes: null, samples: [], final: false };

/** The launcher sends -1 for a figure it cannot read; a result says null rather than a made-up 0. */
const known = (v: number): number | null => (v < 0 ? null : v);

/**
 * Turn the launcher's cumulative readings into the result's stats: CPU % per interval, at most 120
 * samples. Peaks it tracks itself start at 0, so they count only when the current value was readable.
 */
export function toRunStats(s: LauncherStats): RunStats {
  const points = s.samples;
  const samples: RunStats['samples'] = [];
  for (let i = 0; i < points.length; i++) {
    const [t, cpu, mem] = points[i]!;
    const prev = points[i - 1];
    const dt = prev ? t - prev[0] : t;
    const dcpu = prev ? cpu - prev[1] : cpu;
    const cpuPct = cpu < 0 || (prev && prev[1] < 0) ? null : dt > 0 && dcpu >= 0 ? Math.round((dcpu / 1e6 / dt) * 1000) / 10 : 0;
    samples.push({ t_ms: t, cpu_pct: cpuPct, memory_bytes: known(mem) });
  }
  const step = Math.ceil(samples.length / MAX_SAMPLES);
  return {
    cpu_ms: s.cpu_ns < 0 ? null : Math.round(s.cpu_ns / 1e6),
    memory_peak_bytes: s.memory_bytes < 0 && s.memory_peak_bytes <= 0 ? null : Math.max(0, s.memory_peak_bytes),
    pids_peak: s.pids < 0 && s.pids_peak <= 0 ? null : Math.max(0, s.pids_peak),
    blkio_read_bytes: known(s.blkio_read_bytes),
    blkio_write_bytes: known(s.blkio_write_bytes),
    samples: step > 1 ? samples.filter((_, i) => i % step === step - 1 || i === samples.length - 1) : samples,
    final: s.final,
  };
}
