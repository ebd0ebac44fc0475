import { posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { extract, pack, type Header as Headers } from 'tar-stream';
import type { PathStat } from '../../server/runtime/container-runtime.js';

/** One file, directory or symlink of the fake engine. */
export interface FakeEntry {
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  content: Buffer;
  linkTarget: string;
}

export function directory(owner: { mode?: number; uid?: number; gid?: number } = {}): FakeEntry {
  return { type: 'directory', mode: owner.mode ?? 0o755, uid: owner.uid ?? 0, gid: owner.gid ?? 0, mtime: new Date(), content: Buffer.alloc(0), linkTarget: '' };
}

/** A directory tree (a container's own root, or a volume): paths relative to its root, '' the root. */
export class FakeTree {
  readonly entries = new Map<string, FakeEntry>();
  constructor(root: FakeEntry = directory()) {
    this.entries.set('', root);
  }
}

/**
 * What the sandbox image holds that Capsule relies on (images/sandbox/Dockerfile): the root of every
 * fake container starts with these directories.
 */
const IMAGE_DIRECTORIES: Record<string, FakeEntry> = {
  tmp: directory({ mode: 0o1777 }),
  workspace: directory({ uid: 10001, gid: 10001 }),
  opt: directory(),
  'opt/capsule': directory(),
};

/** The image's entry at an absolute path, for a volume's first mount (the engine copies it up). */
export function imageEntry(path: string): FakeEntry | undefined {
  const entry = IMAGE_DIRECTORIES[path.replace(/^\/+/, '')];
  return entry ? { ...entry } : undefined;
}

/** A container's view of files: its root tree with volume trees mounted over it, as the archive API sees it. */
export class FakeFilesystem {
  private readonly root = new FakeTree();

  /** `mounts`: absolute mount target → the volume's tree. */
  constructor(private readonly mounts: Map<string, FakeTree>) {
    for (const [rel, entry] of Object.entries(IMAGE_DIRECTORIES)) this.root.entries.set(rel, { ...entry });
  }

  /** Extract a tar (a Buffer of it) into the directory `dir`; false when `dir` is not a directory. */
  async put(dir: string, tar: Buffer): Promise<boolean> {
    if (this.lookup(dir)?.type !== 'directory') return false;
    const ex = extract();
    const done = (async () => {
      for await (const entry of ex as unknown as AsyncIterable<Readable & { header: Headers }>) {
        const parts: Buffer[] = [];
        for await (const chunk of entry) parts.push(chunk as Buffer);
        this.set(posix.join(dir, entry.header.name), fromHeader(entry.header, Buffer.concat(parts)));
      }
    })();
    ex.end(tar);
    await done;
    return true;
  }

  /** A tar of `path`, its entries named from the path's last component; null when it does not exist. */
  pack(path: string): Readable | null {
    const { tree, rel } = this.resolve(path);
    if (!tree.entries.has(rel)) return null;
    const base = posix.basename(path) || '.';
    const archive = pack();
    const keys = [...tree.entries.keys()].filter((k) => k === rel || rel === '' || k.startsWith(`${rel}/`)).sort();
    for (const key of keys) {
      const e = tree.entries.get(key)!;
      const name = `${key === rel ? base : `${base}/${key.slice(rel === '' ? 0 : rel.length + 1)}`}${e.type === 'directory' ? '/' : ''}`;
      const header = { name, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, type: e.type, ...(e.type === 'symlink' ? { linkname: e.linkTarget } : {}) };
      if (e.type === 'file') archive.entry(header, e.content);
      else archive.entry(header);
    }
    archive.finalize();
    return PassThrough.from(archive as unknown as AsyncIterable<Buffer>);
  }

  /** lstat: the last component is not followed; null when missing. */
  stat(path: string): PathStat | null {
    const e = this.lookup(path);
    if (!e) return null;
    return {
      name: posix.basename(path),
      size: e.type === 'file' ? e.content.length : e.type === 'symlink' ? e.linkTarget.length : 4096,
      mode: e.mode & 0o777,
      mtime: e.mtime.toISOString(),
      type: e.type,
      linkTarget: e.type === 'symlink' ? this.followLinks(path) : '',
    };
  }

  /** Everything under the given volume targets' trees is the volumes'; the rest is the container's root. */
  private resolve(path: string): { tree: FakeTree; rel: string } {
    const abs = posix.resolve('/', path);
    let best: { target: string; tree: FakeTree } | null = null;
    for (const [target, tree] of this.mounts) {
      if ((abs === target || abs.startsWith(`${target}/`)) && (!best || target.length > best.target.length)) best = { target, tree };
    }
    if (!best) return { tree: this.root, rel: abs.slice(1) };
    return { tree: best.tree, rel: abs.slice(best.target.length + 1) };
  }

  private lookup(path: string): FakeEntry | undefined {
    const { tree, rel } = this.resolve(path);
    return tree.entries.get(rel);
  }

  private set(path: string, entry: FakeEntry): void {
    const { tree, rel } = this.resolve(path.replace(/\/$/, ''));
    // Parents an archive names only implicitly are made, as tar extraction does.
    for (let parent = posix.dirname(rel); parent !== '.' && !tree.entries.has(parent); parent = posix.dirname(parent)) tree.entries.set(parent, directory());
    tree.entries.set(rel, entry);
  }

  /** The absolute path a symlink finally names, resolved inside the container (as the engine reports it). */
  private followLinks(path: string): string {
    let abs = posix.resolve('/', path);
    for (let hops = 0; hops < 40; hops++) {
      const e = this.lookup(abs);
      if (e?.type !== 'symlink') return abs;
      abs = posix.resolve(posix.dirname(abs), e.linkTarget);
    }
    return abs;
  }
}

function fromHeader(h: Headers, content: Buffer): FakeEntry {
  const type = h.type === 'directory' ? 'directory' : h.type === 'symlink' ? 'symlink' : 'file';
  return { type, mode: (h.mode ?? 0o644) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime ?? new Date(), content, linkTarget: h.linkname ?? '' };
}
