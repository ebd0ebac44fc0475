import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

interface StoredEvent {
  id: string;
  streamId: string;
  message: JSONRPCMessage;
  bytes: number;
}

/**
 * About how much a stored message holds, without serialising it: string lengths plus a few bytes per
 * value and key. The store keeps message objects, so this measures what it holds (JSON escaping, which
 * turns a NUL byte into 6 characters, is not held); and a result of a few MB is no longer copied into
 * a throwaway JSON string just to be measured (the transport serialises it once already).
 */
export function approximateJsonBytes(value: unknown, depth = 0): number {
  if (typeof value === 'string') return value.length + 2;
  if (value === null || typeof value !== 'object' || depth > 64) return 8;
  let n = 2;
  if (Array.isArray(value)) for (const v of value) n += approximateJsonBytes(v, depth + 1) + 1;
  else for (const [k, v] of Object.entries(value)) n += k.length + 4 + approximateJsonBytes(v, depth + 1);
  return n;
}

/**
 * The SDK's EventStore (resumable Streamable HTTP: a client reconnecting with Last-Event-ID gets the
 * notifications it missed), kept in memory with a bound on events and bytes: the oldest are dropped
 * first. The SDK's own InMemoryEventStore is an unbounded example; this one can run for weeks.
 */
export class BoundedEventStore implements EventStore {
  private readonly events: StoredEvent[] = [];
  private readonly byId = new Map<string, StoredEvent>();
  private bytes = 0;
  private seq = 0;

  constructor(
    private readonly maxEvents = 2_000,
    private readonly maxBytes = 8 << 20,
  ) {}

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `${streamId}.${(++this.seq).toString(36)}`;
    const event = { id, streamId, message, bytes: approximateJsonBytes(message) };
    this.events.push(event);
    this.byId.set(id, event);
    this.bytes += event.bytes;
    while (this.events.length > this.maxEvents || this.bytes > this.maxBytes) {
      const old = this.events.shift()!;
      this.byId.delete(old.id);
      this.bytes -= old.bytes;
    }
    return id;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.byId.get(eventId)?.streamId;
  }

  async replayEventsAfter(lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const last = this.byId.get(lastEventId);
    if (!last) return '';
    const start = this.events.indexOf(last);
    for (const e of this.events.slice(start + 1)) if (e.streamId === last.streamId) await send(e.id, e.message);
    return last.streamId;
  }
}
