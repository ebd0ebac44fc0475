import { readFileSync } from 'node:fs';
import { DockerRuntime } from '../server/runtime/docker/docker-runtime.js';

/** Samples a process's resident set every 500 ms (MB). */
export class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: () => number) {}

  current(): number {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid()}/status`, 'utf8'))?.[1] ?? 0);
      return Math.round(kb / 1024);
    } catch {
      return 0; // the process is being restarted
    }
  }

  start(): void {
    this.timer = setInterval(() => (this.peak = Math.max(this.peak, this.current())), 500);
    this.timer.unref();
  }

  /** A restarted server starts a new peak. */
  reset(): void {
    this.peak = this.current();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Open MCP sessions, from the server's own gauge on /metrics. */
export async function openSessions(base: string): Promise<number | null> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = /^mcp_sessions_active(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** Capsule containers and volumes of this instance left on the engine (warm-pool containers excluded while up). */
export async function leftovers(host: string, instance: string, serverUp: boolean): Promise<{ containers: number; volumes: number }> {
  const runtime = new DockerRuntime({ dockerHost: host });
  const containers = (await runtime.list({ 'capsule.managed': 'true', 'capsule.instance': instance })).filter((c) => !serverUp || c.labels['capsule.kind'] !== 'pool');
  const volumes = await runtime.listVolumes({ 'capsule.managed': 'true', 'capsule.instance': instance });
  return { containers: containers.length, volumes: volumes.length };
}

/**
 * The server's heap after two full GCs, in MB, through bench/memory-probe.cjs (preloaded with
 * NODE_OPTIONS, see MEMORY_PROBE_OPTIONS): live objects only, so growth here is a leak, while RSS
 * growth with a flat heap is the allocator keeping freed pages (fragmentation).
 */
export async function heapAfterGc(pid: number, stderr: () => string): Promise<{ heap_used: number; rss: number } | null> {
  const before = stderr().length;
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    const line = /capsule-bench-memory (\{.*\})/.exec(stderr().slice(before))?.[1];
    if (line) {
      const m = JSON.parse(line) as { heapUsed: number; rss: number };
      return { heap_used: Math.round(m.heapUsed / 2 ** 20), rss: Math.round(m.rss / 2 ** 20) };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

export const MEMORY_PROBE_OPTIONS = `--expose-gc --require ${new URL('./memory-probe.cjs', import.meta.url).pathname}`;
