import type { Response } from 'express';
import { NotFoundError } from '../errors.js';
import type { RetainedLog } from '../sandbox/runs/retained-log.js';
import type { RunResult } from '../sandbox/runs/run-result.js';
import type { RestDeps } from './rest-runs.js';

/** The output log and result of a run in flight (a background process, or a run a call waits for), or undefined. */
function liveOutputOf(deps: RestDeps, owner: string, id: string): { log: RetainedLog; done: Promise<RunResult> } | undefined {
  try {
    return deps.processes.get(owner, id);
  } catch {
    const handle = deps.sandbox.live(id);
    return handle && handle.owner === owner ? { log: handle.log, done: handle.wait() } : undefined;
  }
}

/**
 * GET /v1/runs/:id/events: server-sent events `stdout`, `stderr`, `dropped` and finally `exit` (the
 * result), for a run in flight (from its log) or one that ended (from the store).
 */
export async function streamRunEvents(deps: RestDeps, owner: string, id: string, lastEventId: string | undefined, res: Response): Promise<void> {
  const cursor = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
  const live = liveOutputOf(deps, owner, id);
  const record = live ? null : deps.store.get(id, owner);
  if (!live && !record) throw new NotFoundError(`run ${id} not found`);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (event: string, data: unknown, eventId?: string) =>
    res.write(`${eventId !== undefined ? `id: ${eventId}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

  if (!live) {
    // A finished run no longer in memory: replay what the store kept.
    const result = record!.result;
    if (result?.stdout) send('stdout', { data: result.stdout }, String(Buffer.byteLength(result.stdout)));
    if (result?.stderr) send('stderr', { data: result.stderr });
    send('exit', result ?? { status: record!.status, error: record!.error }, 'end');
    res.end();
    return;
  }
  // Event ids are byte offsets into the process log: Last-Event-ID resumes exactly after the last event seen.
  let next = cursor;
  let closed = false;
  res.on('close', () => (closed = true));
  const pump = () => {
    if (closed) return;
    for (;;) {
      const r = live.log.read(next, 64 * 1024);
      if (r.dropped_bytes) send('dropped', { bytes: r.dropped_bytes });
      for (const c of r.chunks) send(c.stream, { data: c.data }, String(c.end));
      if (r.next_cursor === next || r.chunks.length === 0) break;
      next = r.next_cursor;
    }
    if (live.log.closed && (next ?? live.log.startOffset) >= live.log.endOffset) {
      live.log.off('append', pump);
      void live.done
        .then((result) => send('exit', result, 'end'))
        .catch((err: unknown) => send('exit', { status: 'failed', error: (err as Error).message }, 'end'))
        .finally(() => res.end());
    }
  };
  live.log.on('append', pump);
  res.on('close', () => live.log.off('append', pump));
  pump();
}
