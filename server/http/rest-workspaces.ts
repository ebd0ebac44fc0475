import { Router, type Request } from 'express';
import { ownerOf } from '../auth/owner.js';
import { InvalidInputError } from '../errors.js';
import type { Workspaces } from '../sandbox/workspaces/workspace-service.js';
import { entriesQuery } from '../schemas/dashboard.js';
import { handle } from './rest-errors.js';
import { parseWith } from './viewer.js';

/** The file path of /v1/workspaces/:id/files/*path (Express 5 gives the wildcard as segments). */
function filePath(req: Request): string {
  const raw = req.params['path'] as unknown;
  return Array.isArray(raw) ? raw.join('/') : String(raw ?? '');
}

/**
 * REST for workspaces (same auth as /mcp, always the caller's own): listing, folder entries and
 * deletion, raw bytes per file, and whole-workspace tar archives. Bodies stream through to the engine;
 * nothing is buffered whole except a validated upload spool.
 */
export function restWorkspacesRouter(workspaces: Workspaces): Router {
  const router = Router();
  workspaceListingRoutes(router, workspaces);
  router.put(
    '/v1/workspaces/:id/files/*path',
    handle(async (req, res) => {
      const length = Number(req.get('content-length'));
      if (!Number.isSafeInteger(length) || length < 0) throw new InvalidInputError('PUT needs a Content-Length header (the size of the file)');
      const modeHeader = req.get('x-file-mode');
      const mode = modeHeader ? Number.parseInt(modeHeader, 8) : undefined;
      const usage = await workspaces.writeFileStream(ownerOf(req.auth), String(req.params['id']), filePath(req), req, length, mode);
      res.status(201).json({ path: filePath(req), bytes: length, workspace_bytes: usage.bytes, workspace_files: usage.files });
    }),
  );

  router.get(
    '/v1/workspaces/:id/files/*path',
    handle(async (req, res) => {
      const file = await workspaces.openFile(ownerOf(req.auth), String(req.params['id']), filePath(req));
      res.writeHead(200, { 'content-type': file.mime_type, 'content-length': String(file.size) });
      file.stream.pipe(res);
      res.once('close', () => file.stream.destroy());
    }),
  );

  router.delete(
    '/v1/workspaces/:id/files/*path',
    handle(async (req, res) => {
      const deleted = await workspaces.deleteFiles(ownerOf(req.auth), String(req.params['id']), [filePath(req)]);
      res.json({ deleted });
    }),
  );

  router.post(
    '/v1/workspaces/:id/archive',
    handle(async (req, res) => {
      const usage = await workspaces.upload(ownerOf(req.auth), String(req.params['id']), req);
      res.status(201).json({ workspace_bytes: usage.bytes, workspace_files: usage.files });
    }),
  );

  router.get(
    '/v1/workspaces/:id/archive',
    handle(async (req, res) => {
      const tar = await workspaces.download(ownerOf(req.auth), String(req.params['id']));
      res.writeHead(200, { 'content-type': 'application/x-tar', 'content-disposition': `attachment; filename="${String(req.params['id'])}.tar"` });
      tar.pipe(res);
      res.once('close', () => tar.destroy());
    }),
  );

  return router;
}

/** GET /v1/workspaces, GET /v1/workspaces/:id/entries and DELETE /v1/workspaces/:id (the dashboard's file browser). */
function workspaceListingRoutes(router: Router, workspaces: Workspaces): void {
  router.get(
    '/v1/workspaces',
    handle(async (req, res) => {
      res.json({ workspaces: await workspaces.list(ownerOf(req.auth)) });
    }),
  );

  router.delete(
    '/v1/workspaces/:id',
    handle(async (req, res) => {
      const id = String(req.params['id']);
      await workspaces.delete(ownerOf(req.auth), id);
      res.json({ workspace_id: id, deleted: true });
    }),
  );

  router.get(
    '/v1/workspaces/:id/entries',
    handle(async (req, res) => {
      const query = parseWith(entriesQuery, req.query, 'query');
      const recursive = query.recursive === 'true' || query.recursive === '1';
      res.json(await workspaces.listFiles(ownerOf(req.auth), String(req.params['id']), query.path ?? '', recursive));
    }),
  );
}
