import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, QuotaExceededError } from '../errors.js';

/** Artifact names a run may have, with their MIME types. */
export const ARTIFACT_TYPES: Record<string, string> = {
  'flamegraph.html': 'text/html',
  'profile.json': 'application/json',
  'profile.pstats': 'application/octet-stream',
  'server.cpuprofile': 'application/json',
};

const ID = /^[a-z]+_[0-9a-f]{8,32}$/;

/**
 * Artifacts (flame graphs, profiles) under `<dataDir>/artifacts/<id>/`, owned by the owner that made
 * them, capped in size per id and removed after the TTL.
 */
export class ArtifactStore {
  private readonly root: string;

  constructor(
    dataDir: string,
    private readonly maxBytesPerId: number,
  ) {
    this.root = join(dataDir, 'artifacts');
    mkdirSync(this.root, { recursive: true });
  }

  /** Store one artifact of `id` (a run id or a server profile id). */
  put(id: string, owner: string, name: string, data: Buffer | string): void {
    if (!ID.test(id) || !(name in ARTIFACT_TYPES)) throw new Error(`bad artifact ${id}/${name}`);
    const dir = join(this.root, id);
    mkdirSync(dir, { recursive: true });
    const ownerFile = join(dir, '.owner');
    try {
      if (readFileSync(ownerFile, 'utf8') !== owner) throw new Error(`artifact ${id} belongs to another owner`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      writeFileSync(ownerFile, owner);
    }
    const used = readdirSync(dir).filter((f) => f !== '.owner' && f !== name).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (used + size > this.maxBytesPerId) {
      throw new QuotaExceededError(`artifacts of ${id} would take ${used + size} bytes; the limit is ${this.maxBytesPerId} (CAPSULE_ARTIFACT_MAX_BYTES)`);
    }
    writeFileSync(join(dir, name), data);
  }

  /** One artifact of the owner's, with its MIME type; another owner's is reported as missing. */
  get(id: string, owner: string, name: string): { data: Buffer; mimeType: string } {
    const missing = () => new NotFoundError(`artifact ${id}/${name} not found (it never existed, expired, or belongs to another owner)`);
    if (!ID.test(id) || !(name in ARTIFACT_TYPES)) throw missing();
    try {
      if (readFileSync(join(this.root, id, '.owner'), 'utf8') !== owner) throw missing();
      return { data: readFileSync(join(this.root, id, name)), mimeType: ARTIFACT_TYPES[name]! };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missing();
      throw err;
    }
  }

  /** The artifact names of one id (empty when none). */
  list(id: string, owner: string): string[] {
    try {
      if (!ID.test(id) || readFileSync(join(this.root, id, '.owner'), 'utf8') !== owner) return [];
      return readdirSync(join(this.root, id)).filter((f) => f in ARTIFACT_TYPES);
    } catch {
      return [];
    }
  }

  /** Remove artifact folders older than `ttlMs`; returns how many. */
  purgeOlderThan(ttlMs: number): number {
    const cutoff = Date.now() - ttlMs;
    let removed = 0;
    for (const id of readdirSync(this.root)) {
      const dir = join(this.root, id);
      if (statSync(dir).mtimeMs < cutoff) {
        rmSync(dir, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }
}
