import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CAPSULE_VERSION } from '../version.js';
import type { ToolDeps, ToolRegistrar } from './tool-context.js';
import { registerListProfiles } from './tools/list-profiles.js';
import { registerRunCode } from './tools/run-code.js';
import { registerRunCommand } from './tools/run-command.js';
import { registerSystemInfo } from './tools/system-info.js';

const TOOLS: ToolRegistrar[] = [registerRunCommand, registerRunCode, registerListProfiles, registerSystemInfo];

/** A new MCP server (one per session or stdio connection) with every Capsule tool registered. */
export function createMcpServer(deps: ToolDeps): McpServer {
  const server = new McpServer(
    { name: 'capsule', version: CAPSULE_VERSION },
    {
      capabilities: { tools: {}, logging: {} },
      instructions:
        'Capsule runs each command or code block in its own fresh, locked-down Docker container (no network, ' +
        'non-root, resource limits) and removes it afterwards. Use run_command for shell commands and run_code for ' +
        'Python/JavaScript/TypeScript/Bash programs; list_profiles shows the limits.',
    },
  );
  for (const register of TOOLS) register(server, deps);
  return server;
}
