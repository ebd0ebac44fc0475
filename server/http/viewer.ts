import type { Request } from 'express';
import { z } from 'zod';
import { ownerOf } from '../auth/owner.js';
import { InvalidInputError } from '../errors.js';
import type { RunStore } from '../store/run-store.js';

/**
 * Who is asking, for the routes that show runs: an owner sees their own runs; an owner named in
 * CAPSULE_ADMIN_OWNERS sees (and may kill) everyone's. Without tokens the caller is "local", admin only
 * when listed, which changes nothing but the owner column since every run is then local's.
 */
export interface Viewer {
  owner: string;
  admin: boolean;
}

export function viewerOf(req: Request, admins: ReadonlySet<string>): Viewer {
  const owner = ownerOf(req.auth);
  return { owner, admin: admins.has(owner) };
}

/**
 * The owner to act as on run `id`: an admin acts as the run's owner (so the owner-scoped services
 * below answer as they would to that owner), anyone else as themselves, so another owner's run stays
 * indistinguishable from a missing one.
 */
export function actingOwner(viewer: Viewer, store: RunStore, id: string): string {
  if (!viewer.admin) return viewer.owner;
  return store.find(id)?.owner ?? viewer.owner;
}

/** Parse a query or body with its zod schema; the error names every bad field. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidInputError(`${what}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}
