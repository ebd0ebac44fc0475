import { useEffect, useState } from 'preact/hooks';
import { bytes, clock } from '../shared/format.js';
import type { FileEntry, FileListing, WorkspaceInfo } from '../shared/types.js';
import { download, request } from './api.js';
import { useJson } from './app.js';
import { href } from './hooks.js';

const enc = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/** Your workspaces (a workspace is always its owner's own, admins included). */
export function WorkspacesPage() {
  const { data, error, reload } = useJson<{ workspaces: WorkspaceInfo[] }>('/v1/workspaces');
  const [problem, setProblem] = useState<string | null>(null);
  const remove = async (id: string) => {
    if (!confirm(`Delete workspace ${id} and all its files?`)) return;
    await request(`/v1/workspaces/${encodeURIComponent(id)}`, { method: 'DELETE' }).then(reload, (err: unknown) => setProblem((err as Error).message));
  };
  return (
    <section>
      <div class="toolbar">
        <h2>Workspaces</h2>
      </div>
      {error || problem ? <p class="error">{error ?? problem}</p> : null}
      {data && data.workspaces.length === 0 ? <p class="muted">No workspaces (make one with the create_workspace tool).</p> : null}
      {data?.workspaces.length ? (
        <table class="responsive">
          <thead>
            <tr>
              <th>Workspace</th>
              <th>Files</th>
              <th>Size</th>
              <th>Expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.workspaces.map((w) => (
              <tr key={w.workspace_id} data-workspace-id={w.workspace_id}>
                <td data-label="Workspace">
                  <a href={`#/workspaces/${encodeURIComponent(w.workspace_id)}`}>
                    <code>{w.workspace_id}</code>
                  </a>
                </td>
                <td data-label="Files">{w.files}</td>
                <td data-label="Size">
                  {bytes(w.bytes)} of {bytes(w.quota_bytes)}
                </td>
                <td data-label="Expires">{clock(w.expires_at)}</td>
                <td>
                  <button type="button" class="danger small" onClick={() => void remove(w.workspace_id)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

/** A workspace's folder: entries, a file's content, downloads and deletes. */
export function WorkspacePage({ id, path }: { id: string; path: string }) {
  const { data, error, reload } = useJson<FileListing>(`/v1/workspaces/${encodeURIComponent(id)}/entries?path=${encodeURIComponent(path)}`);
  const [open, setOpen] = useState<FileEntry | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => setOpen(null), [id, path]);
  const crumbs = path.split('/').filter(Boolean);
  const remove = async (entry: FileEntry) => {
    if (!confirm(`Delete ${entry.path}${entry.type === 'directory' ? ' and everything in it' : ''}?`)) return;
    await request(`/v1/workspaces/${encodeURIComponent(id)}/files/${enc(entry.path)}`, { method: 'DELETE' }).then(
      () => (setOpen(null), reload()),
      (err: unknown) => setProblem((err as Error).message),
    );
  };
  const entries = [...(data?.entries ?? [])].sort((a, b) => Number(b.type === 'directory') - Number(a.type === 'directory') || a.path.localeCompare(b.path));
  return (
    <section class="workspace" data-workspace-id={id}>
      <div class="toolbar">
        <h2>
          <a href="#/workspaces">Workspaces</a> / <a href={href(`workspaces/${encodeURIComponent(id)}`)}><code>{id}</code></a>
          {crumbs.map((c, i) => (
            <>
              {' / '}
              <a href={href(`workspaces/${encodeURIComponent(id)}`, { path: crumbs.slice(0, i + 1).join('/') })}>{c}</a>
            </>
          ))}
        </h2>
        <button type="button" onClick={() => void download(`/v1/workspaces/${encodeURIComponent(id)}/archive`, `${id}.tar`).catch((err: unknown) => setProblem((err as Error).message))}>
          Download archive
        </button>
      </div>
      {error || problem ? <p class="error">{error ?? problem}</p> : null}
      {data && entries.length === 0 ? <p class="muted">Empty folder.</p> : null}
      <div class="browser">
        <ul class="entries">
          {entries.map((e) => (
            <li key={e.path} class={open?.path === e.path ? 'open' : ''} data-path={e.path}>
              {e.type === 'directory' ? (
                <a href={href(`workspaces/${encodeURIComponent(id)}`, { path: e.path })}>📁 {e.path.split('/').pop()}/</a>
              ) : (
                <button type="button" class="link" onClick={() => setOpen(e)}>
                  {e.path.split('/').pop()}
                </button>
              )}
              <span class="muted">{e.type === 'file' ? bytes(e.size) : e.type === 'directory' ? '' : e.type}</span>
              <button type="button" class="danger small" title={`Delete ${e.path}`} onClick={() => void remove(e)}>
                Delete
              </button>
            </li>
          ))}
        </ul>
        {open ? <FileView workspace={id} entry={open} /> : null}
      </div>
    </section>
  );
}

const SHOW_MAX = 1 << 20;

function FileView({ workspace, entry }: { workspace: string; entry: FileEntry }) {
  const [text, setText] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const url = `/v1/workspaces/${encodeURIComponent(workspace)}/files/${enc(entry.path)}`;
  useEffect(() => {
    setText(null);
    setNote(null);
    if (entry.size > SHOW_MAX) return setNote(`${bytes(entry.size)}: too large to show here; download it.`);
    request(url)
      .then(async (res) => {
        const buf = new Uint8Array(await res.arrayBuffer());
        try {
          setText(new TextDecoder('utf-8', { fatal: true }).decode(buf));
        } catch {
          setNote(`Binary file (${res.headers.get('content-type') ?? 'unknown type'}); download it.`);
        }
      })
      .catch((err: unknown) => setNote((err as Error).message));
  }, [url]);
  return (
    <article class="file-view" data-path={entry.path}>
      <header>
        <code>{entry.path}</code> <span class="muted">{bytes(entry.size)} · mode {entry.mode.toString(8)} · {clock(entry.mtime)}</span>{' '}
        <button type="button" class="small" onClick={() => void download(url, entry.path.split('/').pop() ?? 'file')}>
          Download
        </button>
      </header>
      {note ? <p class="muted">{note}</p> : null}
      {text !== null ? <pre class="file-text">{text}</pre> : null}
    </article>
  );
}
