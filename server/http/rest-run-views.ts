import { Router } from 'express';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { BackgroundProcess, ProcessManager } from '../sandbox/processes/process-manager.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import { runListQuery } from '../schemas/dashboard.js';
import type { ArtifactStore } from '../store/artifact-store.js';
import { ARTIFACT_TYPES } from '../store/artifact-store.js';
import type { RunStore } from '../store/run-store.js';
import { RunViews } from '../store/run-views.js';
import { handle } from './rest-errors.js';
import { actingOwner, parseWith, viewerOf } from './viewer.js';

export interface RunViewDeps {
  sandbox: SandboxService;
  processes: ProcessManager;
  store: RunStore;
  artifacts: ArtifactStore;
  admins: ReadonlySet<string>;
}

/**
 * What the dashboard reads about runs: GET /v1/runs (the list, with an ETag so an unchanged list
 * answers 304 without a query), GET /v1/runs/:id/stats and GET /v1/runs/:id/artifacts.
 */
export function restRunViewsRouter(deps: RunViewDeps): Router {
  const router = Router();
  const views = new RunViews(deps.store.database);

  router.get(
    '/v1/runs',
    handle(async (req, res) => {
      const viewer = viewerOf(req, deps.admins);
      const query = parseWith(runListQuery, req.query, 'query');
      if (query.owner !== undefined && query.owner !== viewer.owner && !viewer.admin) {
        throw new ForbiddenError('only owners named in CAPSULE_ADMIN_OWNERS may list other owners\' runs');
      }
      // The version covers every run, so it also stands for this viewer's filtered slice of them.
      const etag = `"${deps.store.version}"`;
      res.set('ETag', etag).set('Cache-Control', 'private, no-cache');
      if (req.get('if-none-match') === etag) {
        res.status(304).end();
        return;
      }
      const owner = query.owner ?? (viewer.admin ? null : viewer.owner);
      const runs = views.list({ owner, status: query.status, profile: query.profile, limit: query.limit, before: query.before });
      res.json({ runs, facets: views.facets(viewer.admin ? null : viewer.owner), all_owners: owner === null });
    }),
  );

  router.get(
    '/v1/runs/:id/stats',
    handle(async (req, res) => {
      const id = String(req.params['id']);
      const owner = actingOwner(viewerOf(req, deps.admins), deps.store, id);
      const record = deps.store.get(id, owner);
      if (!record) throw new NotFoundError(`run ${id} not found`);
      const limit = deps.sandbox.listProfiles().find((p) => p.name === record.profile)?.memory_bytes ?? null;
      let live: BackgroundProcess | null = null;
      try {
        live = record.status === 'running' ? deps.processes.get(owner, id) : null;
      } catch {
        live = null; // a run_command still going: not a process, no live stats yet
      }
      const stats = live ? live.stats : (record.result?.stats ?? null);
      res.json({ run_id: record.run_id, state: live?.state ?? record.status, stats, memory_limit_bytes: limit });
    }),
  );

  router.get(
    '/v1/runs/:id/artifacts',
    handle(async (req, res) => {
      const id = String(req.params['id']);
      const owner = actingOwner(viewerOf(req, deps.admins), deps.store, id);
      if (!deps.store.get(id, owner)) throw new NotFoundError(`run ${id} not found`);
      const artifacts = deps.artifacts.list(id, owner).map((name) => ({ name, mime_type: ARTIFACT_TYPES[name]!, href: `/v1/runs/${id}/artifacts/${name}` }));
      res.json({ artifacts });
    }),
  );

  return router;
}
