import http from 'node:http';

/**
 * tools/call on an open Streamable HTTP session with node:http and a few lines of SSE parsing: the
 * server's own latency, without the SDK client's work (its fetch, SSE stream parsing and schema checks
 * measured ~3 ms of a ~16 ms warm call here). Benchmarks print it next to the SDK client's figure.
 */
export function rawToolCaller(url: URL, sessionId: string, protocolVersion: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let id = 1_000_000;
  const call = (name: string, args: Record<string, unknown>): Promise<{ structuredContent?: Record<string, unknown>; isError?: boolean }> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { name, arguments: args } });
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion, 'content-length': Buffer.byteLength(body) };
      const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          // The last `data:` line of the SSE stream is the response (notifications come before it).
          const last = text.split('\n').filter((l) => l.startsWith('data: ')).pop();
          const message = last ? (JSON.parse(last.slice(6)) as { result?: { structuredContent?: Record<string, unknown>; isError?: boolean } }) : {};
          if (res.statusCode !== 200 || !message.result) reject(new Error(`tools/call ${name}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
          else resolve(message.result);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  return { call, close: () => agent.destroy() };
}
