import { describe, expect, it } from 'vitest';
import { parseSse } from './sse';

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
