import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ClientCapabilities, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { InternalError } from '../errors.js';
import type { SessionLogLevel } from './session-log-level.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What one MCP session keeps for its tools: the client's logging/setLevel and what the client can do. */
export interface SessionState {
  /** Whose session it is (the token's name; "local" without tokens): the tasks it sees are this owner's. */
  readonly owner: string;
  readonly logLevel: SessionLogLevel;
  /** The capabilities the client sent in initialize (sampling, elicitation, ...). */
  clientCapabilities(): ClientCapabilities | undefined;
  /**
   * A notification outside any request (Streamable HTTP: the session's GET stream, kept for replay
   * when none is open): what a task sends once its tools/call has been answered. Rejects once the
   * session is closed.
   */
  notify(notification: ServerNotification): Promise<void>;
}

/**
 * Tools are registered once and shared by every session (see ToolCatalog), so a tool finds its
 * session at call time: `session.of(extra)` is the state of the session the request came from.
 */
export interface SessionContext {
  of(extra: Extra): SessionState;
}

const SESSION = Symbol('capsule.mcp.session');

/**
 * The request's extra with its session attached. A symbol key survives the SDK's `{ ...extra }`
 * copies (its task path makes one), and no client value can set it.
 */
export function withSession<E extends object>(extra: E, state: SessionState): E {
  return { ...extra, [SESSION]: state };
}

/** The one SessionContext: reads the session withSession attached. */
export const sessionContext: SessionContext = {
  of(extra) {
    const state = (extra as { [SESSION]?: SessionState })[SESSION];
    if (!state) throw new InternalError('a tool ran without its MCP session (tools must be served through ToolCatalog.createServer)');
    return state;
  },
};
