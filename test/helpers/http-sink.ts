import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  contentType: string;
  body: Buffer;
}

/** A local HTTP listener on 127.0.0.1 that records every request body (an OTLP or Jaeger collector stand-in). */
export async function startSink(): Promise<{ url: string; received: Received[]; close: () => Promise<void>; waitFor: (pred: (r: Received[]) => boolean, ms?: number) => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(parts) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
    async waitFor(pred, ms = 15_000) {
      const end = Date.now() + ms;
      while (!pred(received) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    },
  };
}
