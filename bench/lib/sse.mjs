// A minimal SSE reader over node:http (no reconnect): calls onEvent({ id, event, data, at }) with the
// arrival time (performance.now()) of each complete frame.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export function connectSse(url, token, onEvent) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`SSE ${url} → ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk) => {
          buffer += chunk;
          for (;;) {
            const end = buffer.indexOf('\n\n');
            if (end < 0) break;
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const at = performance.now();
            const ev = { id: null, event: 'message', data: '', at };
            let hasField = false;
            for (const line of frame.split('\n')) {
              if (line.startsWith(':')) continue;
              const i = line.indexOf(':');
              const field = i < 0 ? line : line.slice(0, i);
              const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
              hasField = true;
              if (field === 'id') ev.id = value;
              else if (field === 'event') ev.event = value;
              else if (field === 'data') ev.data = ev.data ? `${ev.data}\n${value}` : value;
            }
            if (hasField) onEvent(ev);
          }
        });
        resolve({ close: () => req.destroy() });
      },
    );
    req.on('error', (e) => reject(e));
  });
}
