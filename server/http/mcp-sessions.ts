import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { ownerOf } from '../auth/owner.js';
import { capsuleMetrics } from '../telemetry/metrics.js';
import { BoundedEventStore } from './bounded-event-store.js';

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  lastSeen: number;
  /** The owner who opened it; other owners get 403 on it. */
  owner: string;
}

function jsonRpcError(res: Response, status: number, code: number, message: string): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

/**
 * Streamable HTTP sessions at /mcp: one McpServer and transport per session id (the SDK's stateful
 * pattern). Sessions end on DELETE, on transport close, after an idle period, or at shutdown.
 */
export class McpSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;
  private closing = false;
  /** POST responses not yet finished: requests whose answers are still being written. */
  private openResponses = 0;

  private readonly eventStore = new BoundedEventStore();

  constructor(
    private readonly createServer: () => McpServer,
    private readonly log: Logger,
    private readonly idleMs: number,
  ) {
    this.sweeper = setInterval(() => this.sweepIdle(), Math.min(60_000, Math.max(1000, idleMs / 4)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Express handler for POST/GET/DELETE /mcp. */
  handle = async (req: Request, res: Response): Promise<void> => {
    if (this.closing) return jsonRpcError(res, 503, -32000, 'server is shutting down');
    if (req.method === 'POST') {
      this.openResponses++;
      res.once('close', () => this.openResponses--);
    }
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId) {
      const session = this.sessions.get(sessionId);
      if (!session) return jsonRpcError(res, 404, -32001, 'session not found (it expired or the server restarted): initialize again');
      if (session.owner !== ownerOf(req.auth)) return jsonRpcError(res, 403, -32000, 'this session belongs to another owner');
      session.lastSeen = Date.now();
      await session.transport.handleRequest(req, res, req.body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
      return jsonRpcError(res, 400, -32000, 'bad request: send an initialize request first, then the mcp-session-id header');
    }
    const server = this.createServer();
    const owner = ownerOf(req.auth);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // Resumability: a client reconnecting with Last-Event-ID receives the notifications it missed.
      eventStore: this.eventStore,
      onsessioninitialized: (id) => {
        this.sessions.set(id, { transport, server, lastSeen: Date.now(), owner });
        capsuleMetrics.sessionsActive.add(1);
        this.log.info({ mcp_session_id: id, owner }, 'mcp session opened');
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id && this.sessions.delete(id)) {
        capsuleMetrics.sessionsActive.add(-1);
        this.log.info({ mcp_session_id: id }, 'mcp session closed');
      }
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  };

  /**
   * Close every session (shutdown). Waits up to `graceMs` for requests in flight to be answered first:
   * closing a session aborts its pending requests, and the SDK drops the answers of aborted requests.
   */
  async closeAll(graceMs = 2000): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    const deadline = Date.now() + graceMs;
    while (this.openResponses > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const all = [...this.sessions.values()];
    capsuleMetrics.sessionsActive.add(-all.length);
    this.sessions.clear();
    await Promise.allSettled(all.map((s) => s.server.close()));
  }

  private sweepIdle(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const [id, session] of this.sessions) {
      if (session.lastSeen < cutoff) {
        this.sessions.delete(id);
        capsuleMetrics.sessionsActive.add(-1);
        this.log.info({ mcp_session_id: id }, 'mcp session expired (idle)');
        void session.server.close().catch(() => undefined);
      }
    }
  }
}
