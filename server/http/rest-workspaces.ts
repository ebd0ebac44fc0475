import { Router, type Request } from 'express';
import { ownerOf } from '../auth/owner.js';
import { InvalidInputError } from '../errors.js';
import type { WorkspaceService } from '../sandbox/workspaces/workspace-service.js';
import { handle } from './rest-errors.js';

/** The file path of /v1/workspaces/:id/files/*path (Express 5 gives the wildcard as segments). */
function filePath(req: Request): string {
  const raw = req.params['path'] as unknown;
  return Array.isArray(raw) ? raw.join('/') : String(raw ?? '');
}

/**
 * REST for workspace files (same auth as /mcp): raw bytes per file, and whole-workspace tar archives.
 * Bodies stream through to the engine; nothing is buffered whole except a validated upload spool.
 */
export function restWorkspacesRouter(workspaces: WorkspaceService): Router {
  const router = Router();
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
