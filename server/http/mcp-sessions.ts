import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { ownerOf } from '../auth/owner.js';
import { BadRequestError, ForbiddenError, SessionNotFoundError, ShuttingDownError } from '../errors.js';
import { capsuleMetrics } from '../telemetry/metrics.js';
import { BoundedEventStore } from './bounded-event-store.js';
import { requestIdOf, sendJsonRpcError } from './json-rpc-errors.js';
import { type SessionLimits, SessionTable } from './session-table.js';

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
}

/**
 * A client holds one standalone GET stream (the SDK answers a second with 409) plus one resumption
 * (GET with Last-Event-ID) per POST stream whose connection dropped; the SDK does not bound those,
 * so Capsule does.
 */
export const MAX_STREAMS_PER_SESSION = 4;

/**
 * Streamable HTTP sessions at /mcp: one McpServer and transport per session id (the SDK's stateful
 * pattern; the tools behind them are built once, see ToolCatalog). Sessions end on DELETE, on
 * transport close, after the idle timeout, or at shutdown. Sessions are capped globally and per
 * owner; over a cap `initialize` gets 429 with Retry-After and the cap named.
 */
export class McpSessions {
  private readonly table: SessionTable<Session>;
  private readonly sweeper: NodeJS.Timeout;
  private closing = false;
  /** POST responses not yet finished: requests whose answers are still being written. */
  private openResponses = 0;

  private readonly eventStore = new BoundedEventStore();

  constructor(
    /** A session's McpServer; its task store is the owner's (tasks belong to the owner, not the session). */
    private readonly createServer: (owner: string) => McpServer,
    private readonly log: Logger,
    limits: Omit<SessionLimits, 'maxStreamsPerSession'>,
  ) {
    this.table = new SessionTable({ ...limits, maxStreamsPerSession: MAX_STREAMS_PER_SESSION });
    this.sweeper = setInterval(() => this.sweepIdle(), this.table.sweepIntervalMs);
    this.sweeper.unref();
  }

  get size(): number {
    return this.table.size;
  }

  /** Sessions held per owner (open, or initializing). */
  byOwner(): Record<string, number> {
    return this.table.heldByOwner();
  }

  /** Express handler for POST/GET/DELETE /mcp. */
  handle = async (req: Request, res: Response): Promise<void> => {
    const id = requestIdOf(req.body);
    try {
      if (this.closing) throw new ShuttingDownError('server is shutting down');
      if (req.method === 'POST') {
        this.openResponses++;
        res.once('close', () => this.openResponses--);
      }
      const header = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (sessionId) return await this.forward(sessionId, req, res);
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
        throw new BadRequestError('bad request: send an initialize request first, then the mcp-session-id header');
      }
      await this.open(req, res);
    } catch (err) {
      if (res.headersSent) throw err;
      sendJsonRpcError(res, err, id);
    }
  };

  /** A request on an existing session: owner checked, counted (GET streams capped), handed to its transport. */
  private async forward(sessionId: string, req: Request, res: Response): Promise<void> {
    const session = this.table.get(sessionId);
    if (!session) throw new SessionNotFoundError('session not found (it expired or the server restarted): initialize again');
    if (session.owner !== ownerOf(req.auth)) throw new ForbiddenError('this session belongs to another owner');
    const end = this.table.begin(sessionId, req.method === 'GET' ? 'stream' : 'request');
    res.once('close', end);
    await session.value.transport.handleRequest(req, res, req.body);
  }

  /** An initialize: reserve a slot (or 429), build the session's server and transport, answer. */
  private async open(req: Request, res: Response): Promise<void> {
    const owner = ownerOf(req.auth);
    const slot = this.table.reserve(owner);
    const server = this.createServer(owner);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // Resumability: a client reconnecting with Last-Event-ID receives the notifications it missed.
      eventStore: this.eventStore,
      onsessioninitialized: (id) => {
        slot.open(id, { transport, server });
        capsuleMetrics.sessionsActive.add(1);
        this.log.info({ mcp_session_id: id, owner }, 'mcp session opened');
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id && this.table.remove(id)) {
        capsuleMetrics.sessionsActive.add(-1);
        this.log.info({ mcp_session_id: id }, 'mcp session closed');
      }
    };
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } finally {
      // The transport refused the initialize (a bad protocol version, say) or the client left first.
      if (!slot.opened) {
        slot.release();
        void server.close().catch(() => undefined);
      }
    }
  }

  /**
   * Close every session (shutdown). Waits up to `graceMs` for requests in flight to be answered first:
   * closing a session aborts its pending requests, and the SDK drops the answers of aborted requests.
   */
  async closeAll(graceMs = 2000): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    const deadline = Date.now() + graceMs;
    while (this.openResponses > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const all = this.table.clear();
    capsuleMetrics.sessionsActive.add(-all.length);
    await Promise.allSettled(all.map((s) => s.server.close()));
  }

  private sweepIdle(): void {
    for (const id of this.table.expired()) {
      const session = this.table.remove(id);
      if (!session) continue;
      capsuleMetrics.sessionsActive.add(-1);
      this.log.info({ mcp_session_id: id }, 'mcp session expired (idle)');
      // Closing the server closes the transport: its open streams end and pending requests abort.
      void session.server.close().catch(() => undefined);
    }
  }
}
