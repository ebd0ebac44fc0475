import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { CreateMessageResultSchema, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Completer } from '../devtools/code-generator.js';
import type { ModelClient } from '../devtools/model-client.js';
import { InvalidInputError } from '../errors.js';
import type { SessionContext } from './session-state.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * The model generate_code talks to: the client's own through MCP sampling (sampling/createMessage on
 * the request's stream, with modelPreferences hints: the model selection strategy), else the server's
 * OpenAI-compatible endpoint, else a clear error.
 */
export function chooseModel(session: SessionContext, extra: Extra, modelClient: ModelClient | null): { complete: Completer; source: 'mcp_sampling' | 'server_model' } {
  if (session.of(extra).clientCapabilities()?.sampling) {
    const complete: Completer = async (messages, systemPrompt) => {
      const r = await extra.sendRequest(
        {
          method: 'sampling/createMessage',
          params: {
            systemPrompt,
            messages: messages
              .filter((m) => m.role !== 'system')
              .map((m) => ({ role: m.role as 'user' | 'assistant', content: { type: 'text' as const, text: m.content } })),
            maxTokens: 4000,
            modelPreferences: { hints: [{ name: 'claude' }, { name: 'gpt' }, { name: 'coder' }], intelligencePriority: 0.8, speedPriority: 0.4, costPriority: 0.3 },
            includeContext: 'none',
          },
        },
        CreateMessageResultSchema,
        { signal: extra.signal, timeout: 300_000 },
      );
      const content = Array.isArray(r.content) ? r.content : [r.content];
      return { text: content.map((c) => (c.type === 'text' ? c.text : '')).join(''), model: r.model };
    };
    return { complete, source: 'mcp_sampling' };
  }
  if (modelClient) {
    const complete: Completer = async (messages, systemPrompt) => ({
      text: await modelClient.complete([{ role: 'system', content: systemPrompt }, ...messages], { signal: extra.signal }),
    });
    return { complete, source: 'server_model' };
  }
  throw new InvalidInputError(
    'generate_code needs a model: use a client that supports MCP sampling (sampling/createMessage), or set CAPSULE_MODEL_URL and CAPSULE_MODEL on the server',
  );
}
