import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { authHeaders } from './api.js';

export interface StreamHandlers {
  onEvent(e: EventSourceMessage): void;
  /** Connection state for the page: reconnecting after a drop, or given up. */
  onState?(state: 'open' | 'reconnecting' | 'closed', error?: string): void;
}

/**
 * GET /v1/runs/:id/events with the bearer token (EventSource cannot send headers, so fetch and the
 * eventsource-parser library), resuming after a dropped connection with Last-Event-ID: the server's
 * ids are byte offsets, so the resumed stream starts exactly after the last event seen. Ends at `exit`.
 */
export function openRunEvents(runId: string, handlers: StreamHandlers): { close(): void } {
  const controller = new AbortController();
  let lastId: string | undefined;
  let attempt = 0;
  let ended = false;

  const connect = async (): Promise<void> => {
    const headers: Record<string, string> = { ...authHeaders(), accept: 'text/event-stream' };
    if (lastId !== undefined) headers['last-event-id'] = lastId;
    const res = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events`, { headers, signal: controller.signal, cache: 'no-store' });
    if (!res.ok || !res.body) {
      // 4xx will not get better by retrying (gone, or no longer ours).
      if (res.status >= 400 && res.status < 500) {
        ended = true;
        handlers.onState?.('closed', `HTTP ${res.status}`);
        return;
      }
      throw new Error(`HTTP ${res.status}`);
    }
    attempt = 0;
    handlers.onState?.('open');
    const parser = createParser({
      onEvent: (e) => {
        if (e.id !== undefined && e.id !== 'end') lastId = e.id;
        if (e.event === 'exit') ended = true;
        handlers.onEvent(e);
      },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
  };

  const loop = async () => {
    while (!ended && !controller.signal.aborted) {
      try {
        await connect();
      } catch (err) {
        if (controller.signal.aborted) return;
        handlers.onState?.('reconnecting', (err as Error).message);
      }
      if (ended || controller.signal.aborted) break;
      handlers.onState?.('reconnecting');
      attempt++;
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))));
    }
    if (!controller.signal.aborted) handlers.onState?.('closed');
  };
  void loop();
  return { close: () => controller.abort() };
}
