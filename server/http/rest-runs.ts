import { Router } from 'express';
import { z } from 'zod';
import { ownerOf } from '../auth/owner.js';
import { NotFoundError } from '../errors.js';
import { handle } from './rest-errors.js';
import { actingOwner, parseWith as parse, viewerOf } from './viewer.js';
import { PROCESS_SIGNALS, type ProcessManager } from '../sandbox/process-manager.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import { runCodeInput, runCommandInput } from '../schemas/run-inputs.js';
import type { RunStore } from '../store/run-store.js';
import type { ArtifactStore } from '../store/artifact-store.js';

export interface RestDeps {
  sandbox: SandboxService;
  processes: ProcessManager;
  store: RunStore;
  artifacts: ArtifactStore;
  /** CAPSULE_ADMIN_OWNERS: owners who see and may kill every owner's runs. */
  admins: ReadonlySet<string>;
}

const commandBody = z.object(runCommandInput).strict();
const codeBody = z.object(runCodeInput).strict();
const waitQuery = z.object({ wait: z.enum(['true', 'false', '1', '0']).optional() });
const killQuery = z.object({ signal: z.enum(PROCESS_SIGNALS).optional() });

/**
 * REST for runs: POST /v1/runs, GET /v1/runs/:id, GET /v1/runs/:id/events (SSE), DELETE /v1/runs/:id.
 * Reads and kills are the caller's own runs, or any run for an admin (see viewer.ts).
 */
export function restRunsRouter(deps: RestDeps): Router {
  const router = Router();
  const ownerFor = (req: Parameters<typeof viewerOf>[0], id: string) => actingOwner(viewerOf(req, deps.admins), deps.store, id);
  router.post(
    '/v1/runs',
    handle(async (req, res) => {
      // Parse against the one alternative the body aims at, so errors name its fields (a union only says "invalid").
      const raw: unknown = req.body;
      const body = raw && typeof raw === 'object' && 'command' in raw ? parse(commandBody, raw, 'body') : parse(codeBody, raw, 'body');
      const { wait } = parse(waitQuery, req.query, 'query');
      const owner = ownerOf(req.auth);
      if (wait === 'true' || wait === '1') {
        const controller = new AbortController();
        res.on('close', () => {
          if (!res.writableFinished) controller.abort(new Error('the HTTP client disconnected'));
        });
        const options = { owner, signal: controller.signal };
        const result = 'command' in body ? await deps.sandbox.runCommand(body, options) : await deps.sandbox.runCode(body, options);
        res.status(200).json(result);
        return;
      }
      const p = await deps.processes.start(body, owner, 'run');
      res.status(202).location(`/v1/runs/${p.runId}`).json({
        run_id: p.runId,
        process_id: p.processId,
        status: p.state,
        links: { self: `/v1/runs/${p.runId}`, events: `/v1/runs/${p.runId}/events` },
      });
    }),
  );

  router.get(
    '/v1/runs/:id',
    handle(async (req, res) => {
      const id = String(req.params['id']);
      const record = deps.store.get(id, ownerFor(req, id));
      if (!record) throw new NotFoundError(`run ${req.params['id']} not found`);
      res.json(record);
    }),
  );

  router.get(
    '/v1/runs/:id/artifacts/:name',
    handle(async (req, res) => {
      const id = String(req.params['id']);
      const { data, mimeType } = deps.artifacts.get(id, ownerFor(req, id), String(req.params['name']));
      res.type(mimeType).send(data);
    }),
  );

  router.delete(
    '/v1/runs/:id',
    handle(async (req, res) => {
      const { signal } = parse(killQuery, req.query, 'query');
      const id = String(req.params['id']);
      const p = await deps.processes.kill(ownerFor(req, id), id, signal);
      res.json({ run_id: p.runId, process_id: p.processId, status: p.state, result: p.result });
    }),
  );

  router.get(
    '/v1/runs/:id/events',
    handle(async (req, res) => {
      const id = String(req.params['id']);
      const owner = ownerFor(req, id);
      const lastEventId = req.get('last-event-id');
      const cursor = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
      let live;
      try {
        live = deps.processes.get(owner, id);
      } catch {
        live = undefined;
      }
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
    }),
  );

  return router;
}
