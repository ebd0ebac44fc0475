import type { z } from 'zod';
import type { runStatsObject } from '../../schemas/run-outputs.js';
import type { LauncherStats } from '../container/launcher-protocol.js';

/** What a run cost, as every result reports it (the result schema's `stats`). */
export type RunStats = z.infer<typeof runStatsObject>;

const MAX_SAMPLES = 120;

export const EMPTY_STATS: RunStats = { cpu_ms: 0, memory_peak_bytes: 0, pids_peak: 0, blkio_read_bytes: 0, blkio_write_bytes: 0, samples: [], final: false };

/** Turn the launcher's cumulative readings into the result's stats: CPU % per interval, at most 120 samples. */
export function toRunStats(s: LauncherStats): RunStats {
  const points = s.samples;
  const samples: RunStats['samples'] = [];
  for (let i = 0; i < points.length; i++) {
    const [t, cpu, mem] = points[i]!;
    const prev = points[i - 1];
    const dt = prev ? t - prev[0] : t;
    const dcpu = prev ? cpu - prev[1] : cpu;
    samples.push({ t_ms: t, cpu_pct: dt > 0 && dcpu >= 0 ? Math.round((dcpu / 1e6 / dt) * 1000) / 10 : 0, memory_bytes: Math.max(0, mem) });
  }
  const step = Math.ceil(samples.length / MAX_SAMPLES);
  return {
    cpu_ms: Math.max(0, Math.round(s.cpu_ns / 1e6)),
    memory_peak_bytes: Math.max(0, s.memory_peak_bytes),
    pids_peak: Math.max(0, s.pids_peak),
    blkio_read_bytes: Math.max(0, s.blkio_read_bytes),
    blkio_write_bytes: Math.max(0, s.blkio_write_bytes),
    samples: step > 1 ? samples.filter((_, i) => i % step === step - 1 || i === samples.length - 1) : samples,
    final: s.final,
  };
}
