import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { ownerOf } from '../auth/owner.js';
import { NotFoundError } from '../errors.js';
import { handle } from './rest-errors.js';
import { streamRunEvents } from './rest-run-events.js';
import { PROCESS_SIGNALS, type ProcessManager } from '../sandbox/processes/process-manager.js';
import { actingOwner, parseWith as parse, viewerOf } from './viewer.js';
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
  router.post('/v1/runs', handle((req, res) => postRun(deps, req, res)));

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

  router.get('/v1/runs/:id/events', handle(async (req, res) => streamRunEvents(deps, ownerFor(req, String(req.params['id'])), String(req.params['id']), req.get('last-event-id'), res)));

  return router;
}

/** POST /v1/runs: with wait=true the result; otherwise 202 and the run goes on in the background. */
async function postRun(deps: RestDeps, req: Request, res: Response): Promise<void> {
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
}
