import { LABEL } from '../container/labels.js';
import type { VolumeSummary } from '../../runtime/container-runtime.js';
import { QuotaExceededError } from '../../errors.js';
import type { Usage } from './workspace-archive.js';

/** What list_workspaces and create_workspace report of one workspace. */
export interface WorkspaceInfo {
  workspace_id: string;
  /** Its home engine, with several. */
  engine?: string;
  created_at: string;
  expires_at: string;
  bytes: number;
  files: number;
  quota_bytes: number;
  quota_files: number;
}

/** The Docker volume of a workspace id. */
export function volumeName(id: string): string {
  return `capsule-${id.replace('_', '-')}`;
}

/** True once a workspace is past its expiry (the sweep removes it; it is never served). */
export function isExpired(v: VolumeSummary): boolean {
  const at = Date.parse(v.labels[LABEL.expiresAt] ?? '');
  return Number.isFinite(at) && at <= Date.now();
}

/** A workspace's facts from its volume labels (usage comes separately). */
export function describe(v: VolumeSummary, quota: { bytes: number; files: number }) {
  return {
    workspace_id: v.labels[LABEL.workspace]!,
    created_at: v.labels[LABEL.createdAt] ?? v.createdAt,
    expires_at: v.labels[LABEL.expiresAt] ?? '',
    quota_bytes: quota.bytes,
    quota_files: quota.files,
  };
}

/** Refuse a write of Capsule's own that would take the workspace past its quota (nothing is written then). */
export function checkQuota(quota: { bytes: number; files: number }, before: Usage, addingBytes: number, addingFiles: number, id: string): void {
  const { bytes, files } = quota;
  if (before.bytes + addingBytes > bytes || before.files + addingFiles > files) {
    throw new QuotaExceededError(
      `workspace ${id} quota exceeded: it holds ${before.bytes} bytes in ${before.files} entries, this adds ${addingBytes} bytes in ${addingFiles}; the quota is ${bytes} bytes and ${files} entries. Nothing was written.`,
    );
  }
}
