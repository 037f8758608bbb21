// Worker-thread entry of the default transport: runs the SDK's HTTP (undici) off the application's
// thread. Messages: see sync/wire.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { UndiciTransport } from './sync/transport';
import { type FromWorker, type ToWorker, toWire } from './sync/wire';

const port = parentPort;
if (!port) throw new Error('transport-worker must run as a worker thread');
const transport = new UndiciTransport(
  Number((workerData as { connectTimeoutMs?: number })?.connectTimeoutMs) || 10_000,
);
const running = new Map<number, AbortController>();
const post = (m: FromWorker) => port.postMessage(m);

async function send(id: number, op: Extract<ToWorker, { op: 'send' }>): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    post({ id, kind: 'response', res: await transport.send(op.req, controller.signal) });
  } catch (err) {
    post({ id, kind: 'error', error: toWire(err) });
  } finally {
    running.delete(id);
  }
}

async function stream(id: number, op: Extract<ToWorker, { op: 'stream' }>): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const res = await transport.stream(op.req, controller.signal);
    post({ id, kind: 'head', statusCode: res.statusCode, headers: res.headers });
    for await (const data of res.chunks) post({ id, kind: 'chunk', data });
    post({ id, kind: 'end' });
  } catch (err) {
    post({ id, kind: 'error', error: toWire(err) });
  } finally {
    running.delete(id);
  }
}

port.on('message', (msg: ToWorker) => {
  switch (msg.op) {
    case 'send':
      void send(msg.id, msg);
      break;
    case 'stream':
      void stream(msg.id, msg);
      break;
    case 'abort':
      running.get(msg.id)?.abort();
      break;
    case 'close':
      for (const c of running.values()) c.abort();
      void transport.close().finally(() => port.close());
      break;
  }
});
