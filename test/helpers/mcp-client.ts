import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * A real SDK client over Streamable HTTP, with a typed callTool returning structured content. It lists
 * tools right after connecting, as hosts do: from then on the SDK checks every structured result
 * against the tool's outputSchema and throws McpError -32602 on a mismatch.
 */
export async function httpClient(url: URL, headers: Record<string, string> = {}) {
  const client = new Client({ name: 'capsule-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
  await client.connect(transport);
  await client.listTools();
  const call = async <T = Record<string, unknown>>(name: string, args: Record<string, unknown> = {}) => {
    const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
    return { result, s: result.structuredContent as T, text: (result.content[0] as { text?: string } | undefined)?.text ?? '' };
  };
  return { client, transport, call };
}
