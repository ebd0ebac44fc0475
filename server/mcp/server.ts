import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CAPSULE_VERSION } from '../version.js';
import { ToolCatalog } from './tool-catalog.js';
import type { SessionContext, ToolDeps, ToolHost, ToolRegistrar } from './tool-context.js';
import { registerArtifactResources, registerWorkspaceResources } from './resources.js';
import { registerRunViewer } from './run-viewer.js';
import { registerAnalyzeCode } from './tools/analyze-code.js';
import { registerCalculate } from './tools/calculate.js';
import { registerContainerStats } from './tools/container-stats.js';
import { registerContextTools } from './tools/context-tools.js';
import { registerGenerateCode } from './tools/generate-code.js';
import { registerRunTests } from './tools/run-tests.js';
import { registerProfileCode } from './tools/profile-code.js';
import { registerServerProfiling } from './tools/server-profiling.js';
import { registerCreateWorkspace } from './tools/create-workspace.js';
import { registerDeleteFiles } from './tools/delete-files.js';
import { registerDeleteWorkspace } from './tools/delete-workspace.js';
import { registerGetRun } from './tools/get-run.js';
import { registerListFiles } from './tools/list-files.js';
import { registerListWorkspaces } from './tools/list-workspaces.js';
import { registerReadFile } from './tools/read-file.js';
import { registerWriteFiles } from './tools/write-files.js';
import { registerKillProcess } from './tools/kill-process.js';
import { registerListProcesses } from './tools/list-processes.js';
import { registerListProfiles } from './tools/list-profiles.js';
import { registerListRuns } from './tools/list-runs.js';
import { registerReadProcessOutput } from './tools/read-process-output.js';
import { registerRunCode } from './tools/run-code.js';
import { registerRunCommand } from './tools/run-command.js';
import { registerStartProcess } from './tools/start-process.js';
import { registerSystemInfo } from './tools/system-info.js';
import { registerWaitProcess } from './tools/wait-process.js';
import { registerWriteProcessStdin } from './tools/write-process-stdin.js';

const TOOLS: ToolRegistrar[] = [
  registerRunCommand,
  registerRunCode,
  registerStartProcess,
  registerListProcesses,
  registerReadProcessOutput,
  registerWaitProcess,
  registerWriteProcessStdin,
  registerKillProcess,
  registerGetRun,
  registerListRuns,
  registerCreateWorkspace,
  registerListWorkspaces,
  registerDeleteWorkspace,
  registerWriteFiles,
  registerReadFile,
  registerListFiles,
  registerDeleteFiles,
  registerProfileCode,
  registerContainerStats,
  registerServerProfiling,
  registerAnalyzeCode,
  registerRunTests,
  registerCalculate,
  registerContextTools,
  registerGenerateCode,
  registerListProfiles,
  registerSystemInfo,
];

const INFO = { name: 'capsule', version: CAPSULE_VERSION };
const OPTIONS = {
  // tasks: tools/call may be task-augmented (the run tools, see registerToolTask); tasks/list and tasks/cancel are served.
  capabilities: { tools: {}, logging: {}, resources: {}, tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
  instructions:
    'Capsule runs each command or code block in its own fresh, locked-down Docker container (no network, ' +
    'non-root, resource limits) and removes it afterwards. Use run_command for shell commands and run_code for ' +
    'Python/JavaScript/TypeScript/Bash programs; start_process for long work you poll; list_profiles shows the limits.',
};

/** Register every Capsule tool and resource on `host`. */
export function registerCapsule(host: ToolHost, deps: ToolDeps, session: SessionContext): void {
  for (const register of TOOLS) register(host, deps, session);
  registerWorkspaceResources(host, deps);
  registerArtifactResources(host, deps);
  registerRunViewer(host);
}

/** Every Capsule tool and resource, registered once; `createServer()` gives each session its own cheap McpServer. */
export function createToolCatalog(deps: ToolDeps): ToolCatalog {
  return new ToolCatalog(INFO, OPTIONS, (host, session) => registerCapsule(host, deps, session), deps.tasks);
}

/** One MCP server with every Capsule tool (a catalog of its own: for one connection, such as stdio). */
export function createMcpServer(deps: ToolDeps): McpServer {
  return createToolCatalog(deps).createServer();
}
