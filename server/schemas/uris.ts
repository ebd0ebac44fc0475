/**
 * Every capsule:// URI is built here, and the resource templates that read them are spelled here:
 * a tool result's link and the resource that serves it cannot drift apart.
 */
export const URI_TEMPLATES = {
  runArtifact: 'capsule://runs/{run_id}/{name}',
  workspace: 'capsule://workspaces/{workspace_id}',
  workspaceFile: 'capsule://workspaces/{workspace_id}/files/{+path}',
} as const;

export const capsuleUri = {
  /** An artifact of a profiled run or a server profile (flamegraph.html, profile.json, ...). */
  runArtifact: (runId: string, name: string) => `capsule://runs/${runId}/${name}`,
  /** A file a run without a workspace returned embedded through `collect` (not readable later). */
  runFile: (runId: string, path: string) => `capsule://runs/${runId}/files/${path}`,
  workspace: (workspaceId: string) => `capsule://workspaces/${workspaceId}`,
  workspaceFile: (workspaceId: string, path: string) => `capsule://workspaces/${workspaceId}/files/${path}`,
};
