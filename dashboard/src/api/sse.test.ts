import { describe, expect, it, vi } from 'vitest';
import { openStream, parseSse } from './sse';

describe('parseSse', () => {
  it('splits complete events and keeps the unfinished rest', () => {
    const { events, rest } = parseSse('retry: 2000\n\nid: 7\ndata: {"id":"7"}\n\n: ping\n\nid: 8\ndata: {"i');
    expect(events).toEqual([{ id: '7', event: 'message', data: '{"id":"7"}' }]);
    expect(rest).toBe('id: 8\ndata: {"i');
    const more = parseSse(`${rest}d":"8"}\n\n`);
    expect(more.events).toEqual([{ id: '8', event: 'message', data: '{"id":"8"}' }]);
  });

  it('reads named events, multi-line data and CRLF', () => {
    const { events } = parseSse('event: end\r\ndata: {"code":14,\r\ndata: "status":"UNAVAILABLE"}\r\n\r\n');
    expect(events).toEqual([{ id: undefined, event: 'end', data: '{"code":14,\n"status":"UNAVAILABLE"}' }]);
  });

  it('drops comments and events without data', () => {
    expect(parseSse(': ping\n\nretry: 10\n\nid: 3\n\n').events).toEqual([]);
  });
});

describe('openStream', () => {
  it('reconnects with Last-Event-ID and the token, and delivers every message once', async () => {
    sessionStorage.setItem('netguard.token', 'tok');
    const seen: Record<string, string>[] = [];
    const bodies = ['retry: 2000\n\nid: 5\ndata: {"id":"5"}\n\n', 'id: 6\ndata: {"id":"6"}\n\n: ping\n\n'];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_url: string, init: RequestInit) => {
        seen.push(init.headers as Record<string, string>);
        const text = bodies.shift() ?? '';
        return new Response(text, { status: 200 });
      }),
    );
    const got: string[] = [];
    const states: string[] = [];
    const stream = openStream<{ id: string }>('StreamAlerts', {
      onMessage: (m, id) => got.push(`${m.id}/${id}`),
      onState: (s) => states.push(s),
      retryMs: 5,
    });
    await vi.waitFor(() => expect(got).toEqual(['5/5', '6/6']));
    stream.close();
    expect(seen[0]['Last-Event-ID']).toBeUndefined();
    expect(seen[0].Authorization).toBe('Bearer tok');
    expect(seen[1]['Last-Event-ID']).toBe('5');
    expect(states).toContain('reconnecting');
  });

  it('gives up with the reason on a permanent refusal', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(
        async () => new Response('{"status":"UNAUTHENTICATED","message":"needs the token"}', { status: 401 }),
      ),
    );
    const states: string[] = [];
    openStream('StreamAlerts', { onMessage: () => {}, onState: (s, d) => states.push(`${s}:${d ?? ''}`) });
    await vi.waitFor(() => expect(states).toContain('failed:needs the token'));
  });
});
