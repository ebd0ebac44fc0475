import { z } from 'zod';
import { CancelledError, CapsuleError, InvalidInputError, ModelEndpointError } from '../errors.js';

export { ModelEndpointError };


export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompleteOptions {
  maxTokens?: number;
  signal?: AbortSignal;
  temperature?: number;
}

/** A chat-completions client for generate_code when the MCP client cannot sample. */
export interface ModelClient {
  complete(messages: ChatMessage[], opts?: CompleteOptions): Promise<string>;
}

export interface ModelClientConfig {
  /** The API base, e.g. http://127.0.0.1:1234/v1 (requests go to `${url}/chat/completions`). */
  url: string;
  model: string;
  apiKey?: string;
  /** Per-request budget (local models can be slow); the caller's signal can end it sooner. */
  timeoutMs?: number;
  /** Largest response body read, in bytes. */
  maxResponseBytes?: number;
}

const completion = z.object({
  choices: z
    .array(z.object({ message: z.object({ content: z.string().nullable().optional() }).passthrough() }).passthrough())
    .min(1),
});

const EXCERPT_CHARS = 300;

/** The endpoint a model URL names, checked: http(s), no credentials in it. */
function endpointOf(config: ModelClientConfig): { endpoint: string; shown: string } {
  let base: URL;
  try {
    base = new URL(config.url);
  } catch {
    throw new InvalidInputError(`model url "${config.url}" is not a URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new InvalidInputError(`model url must be http or https; got ${base.protocol}`);
  // fetch refuses such URLs anyway, and would echo the password in its error.
  if (base.username || base.password) throw new InvalidInputError('model url must not contain credentials; pass the key as apiKey');
  if (!config.model.trim()) throw new InvalidInputError('model must not be empty');
  return { endpoint: `${base.href.replace(/\/+$/, '')}/chat/completions`, shown: `${base.origin}${base.pathname.replace(/\/+$/, '')}/chat/completions` };
}

function checkOptions(messages: ChatMessage[], opts: CompleteOptions): void {
  if (messages.length === 0) throw new InvalidInputError('messages must not be empty');
  if (opts.maxTokens !== undefined && (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 1)) {
    throw new InvalidInputError(`maxTokens must be a positive integer; got ${opts.maxTokens}`);
  }
  if (opts.temperature !== undefined && !(opts.temperature >= 0 && opts.temperature <= 2)) {
    throw new InvalidInputError(`temperature must be from 0 to 2; got ${opts.temperature}`);
  }
}

/** Create a client for an OpenAI-compatible /chat/completions endpoint. */
export function createModelClient(config: ModelClientConfig): ModelClient {
  const { endpoint, shown } = endpointOf(config);
  const timeoutMs = config.timeoutMs ?? 120_000;
  const maxBytes = config.maxResponseBytes ?? 4 * 1024 * 1024;
  const redact = (text: string) => (config.apiKey ? text.split(config.apiKey).join('[redacted]') : text);

  return {
    async complete(messages, opts = {}) {
      checkOptions(messages, opts);
      // Separate signals so a timeout and a client's cancellation are reported differently.
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
      const body = {
        model: config.model,
        messages: messages.map(({ role, content }) => ({ role, content })),
        stream: false,
        ...(opts.maxTokens !== undefined ? { max_tokens: opts.maxTokens } : {}),
        ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
      };
      const failed = (err: unknown): CapsuleError => {
        if (opts.signal?.aborted) return new CancelledError('the model request was cancelled');
        if (timeout.aborted) return new ModelEndpointError(`the model at ${shown} did not answer within ${timeoutMs} ms`, { details: { timeout_ms: timeoutMs } });
        if (err instanceof CapsuleError) return err;
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        return new ModelEndpointError(`cannot reach the model at ${shown}: ${redact(cause?.code ?? cause?.message ?? (err as Error).message)}`, { cause: err });
      };
      try {
        const response = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}) },
          body: JSON.stringify(body),
          signal,
          redirect: 'error',
        });
        const text = await readLimited(response, maxBytes);
        if (!response.ok) {
          const excerpt = redact(text.replace(/\s+/g, ' ').trim()).slice(0, EXCERPT_CHARS);
          throw new ModelEndpointError(`the model at ${shown} answered HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`, { details: { status: response.status } });
        }
        return parseCompletion(text, shown);
      } catch (err) {
        throw failed(err);
      }
    },
  };
}

function parseCompletion(text: string, shown: string): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ModelEndpointError(`the model at ${shown} sent a response that is not JSON: ${text.slice(0, 100).replace(/\s+/g, ' ')}`);
  }
  const parsed = completion.safeParse(json);
  if (!parsed.success) throw new ModelEndpointError(`the model at ${shown} sent a malformed completion (no choices[0].message)`);
  const content = parsed.data.choices[0]!.message.content;
  if (typeof content !== 'string') throw new ModelEndpointError(`the model at ${shown} sent a completion without text content`);
  return content;
}

/** The body as text, refusing to buffer more than `max` bytes from a misbehaving endpoint. */
async function readLimited(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    // Leaving the loop by throwing cancels the stream.
    if (size > max) throw new ModelEndpointError(`the model's response is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
