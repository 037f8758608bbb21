import { describe, expect, it } from 'vitest';
import { type SseEvent, SseParser } from './sse-parser';

function collect() {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = new SseParser({
    onEvent: (e) => events.push(e),
    onComment: (c) => comments.push(c),
    onRetry: (ms) => retries.push(ms),
  });
  return { parser, events, comments, retries };
}

describe('SseParser', () => {
  it('parses the control plane framing: id, event, one data line, blank line', () => {
    const { parser, events } = collect();
    parser.push('id: 7\nevent: snapshot\ndata: {"revision":7}\n\n');
    expect(events).toEqual([{ event: 'snapshot', data: '{"revision":7}', id: '7' }]);
  });

  it('joins data lines with LF and handles CRLF, CR and chunk splits anywhere', () => {
    const { parser, events } = collect();
    const text = 'event: snapshot\r\ndata: a\r\ndata: b\r\rid: 3\ndata:c\n\n';
    for (const ch of text) parser.push(ch);
    expect(events).toEqual([
      { event: 'snapshot', data: 'a\nb', id: undefined },
      { event: 'message', data: 'c', id: '3' },
    ]);
  });

  it('treats a CRLF split across chunks as one line end', () => {
    const { parser, events } = collect();
    parser.push('data: x\r');
    parser.push('\n\r');
    parser.push('\n');
    expect(events).toEqual([{ event: 'message', data: 'x', id: undefined }]);
  });

  it('reports comments (heartbeats) and retry, ignores unknown fields and events without data', () => {
    const { parser, events, comments, retries } = collect();
    parser.push(': heartbeat\n\nretry: 2500\nretry: soon\nfoo: bar\nevent: ping\n\n');
    expect(comments).toEqual(['heartbeat']);
    expect(retries).toEqual([2500]);
    expect(events).toEqual([]);
  });

  it('keeps the last event id across events until a new one arrives', () => {
    const { parser, events } = collect();
    parser.push('id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n');
    expect(events.map((e) => e.id)).toEqual(['1', '1', '2']);
  });

  it('does not dispatch an incomplete event', () => {
    const { parser, events } = collect();
    parser.push('event: snapshot\ndata: {"partial":');
    expect(events).toEqual([]);
    parser.push('true}\n\n');
    expect(events[0]?.data).toBe('{"partial":true}');
  });
});
