// Server-sent events over fetch (not EventSource: it cannot send the Authorization header a
// non-loopback agent wants). Reconnects with Last-Event-ID, so the agent replays what was missed.
import { authHeaders } from './client';

/** One parsed event. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Splits `buffer` into complete events (blank-line terminated) and the unfinished rest.
 * Comment lines (": ping") and `retry:` are dropped.
 */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const normalized = buffer.replace(/\r\n/g, '\n');
  const blocks = normalized.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) events.push({ id, event, data: data.join('\n') });
  }
  return { events, rest };
}

/** The state of a stream, for the UI. */
export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'failed';

/** Options of openStream. */
export interface StreamOptions<T> {
  /** Request fields as query parameters (JSON names). */
  params?: Record<string, string>;
  onMessage: (message: T, id: string | undefined) => void;
  onState?: (state: StreamState, detail?: string) => void;
  /** Delay before a reconnection, ms. */
  retryMs?: number;
}

/** Opens `/api/v1/<method>` as an event stream; close() ends it. */
export function openStream<T>(method: string, options: StreamOptions<T>): { close: () => void } {
  const controller = new AbortController();
  let lastId: string | undefined;
  let closed = false;
  const retry = options.retryMs ?? 2000;
  const state = (s: StreamState, detail?: string) => options.onState?.(s, detail);

  const run = async () => {
    state('connecting');
    while (!closed) {
      const query = new URLSearchParams(options.params ?? {}).toString();
      try {
        const response = await fetch(`/api/v1/${method}${query ? `?${query}` : ''}`, {
          headers: {
            Accept: 'text/event-stream',
            ...authHeaders(),
            ...(lastId ? { 'Last-Event-ID': lastId } : {}),
          },
          signal: controller.signal,
        });
        if (!response.ok || !response.body) {
          const text = await response.text();
          let message = text;
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {
            // plain text
          }
          const permanent = [400, 401, 403, 404, 405, 501].includes(response.status);
          state(permanent ? 'failed' : 'reconnecting', message || response.statusText);
          if (permanent) return;
        } else {
          state('open');
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            const parsed = parseSse(buffer);
            buffer = parsed.rest;
            for (const e of parsed.events) {
              if (e.event === 'end') continue;
              if (e.id) lastId = e.id;
              options.onMessage(JSON.parse(e.data) as T, e.id);
            }
          }
          if (!closed) state('reconnecting', 'the stream ended');
        }
      } catch (e) {
        if (closed) return;
        state('reconnecting', String(e));
      }
      await new Promise((resolve) => setTimeout(resolve, retry));
    }
  };
  void run();
  return {
    close: () => {
      closed = true;
      controller.abort();
    },
  };
}
