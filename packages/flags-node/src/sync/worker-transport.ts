import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { StreamResponse, Transport, TransportRequest, TransportResponse } from './transport';
import { type FromWorker, fromWire, type ToWorker } from './wire';

/**
 * The built worker script: next to this module in the published package (`dist/`), or the
 * package's `dist/` when running from its sources (the repository's tests). `undefined` when
 * neither exists (a bundle that did not copy it): the client then runs undici inline.
 */
export function transportWorkerScript(): URL | undefined {
  const here = import.meta.url;
  const candidates = here.endsWith('.cjs')
    ? ['./transport-worker.cjs']
    : ['./transport-worker.js', '../../dist/transport-worker.js'];
  for (const c of candidates) {
    const url = new URL(c, here);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

function abortError(): Error {
  const err = new Error('This operation was aborted');
  err.name = 'AbortError';
  return err;
}

/**
 * Body chunks of one stream, handed from the worker's messages to an async iterator. Not a
 * `Readable`: keeping Node's shared stream code out of the main thread's work is the point of the
 * worker (see `WorkerTransport`).
 */
class ChunkQueue {
  private readonly items: string[] = [];
  private finished = false;
  private error: Error | undefined;
  private waiter: (() => void) | undefined;

  constructor(private readonly onReturn: () => void) {}

  push(data: string): void {
    this.items.push(data);
    this.wake();
  }

  end(error?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.error = error;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *iterate(): AsyncGenerator<string> {
    try {
      for (;;) {
        const next = this.items.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.finished) {
          if (this.error) throw this.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
        });
      }
    } finally {
      // The reader stopped early (break, throw): the worker drops the connection.
      if (!this.finished) {
        this.finished = true;
        this.onReturn();
      }
    }
  }
}

interface Pending {
  onMessage(msg: FromWorker): boolean;
  fail(err: Error): void;
  /** Removes the abort listener from the caller's signal (a client's signal outlives its requests). */
  cleanup?: () => void;
}

/**
 * Runs the SDK's HTTP on a worker thread (`transport-worker`), so the application's thread never
 * runs undici: measured on Node 20, a process whose main thread has made one undici request serves
 * a Fastify hello-world ~15% slower for the rest of its life (see bench/README.md, issue 5). The
 * worker is unref'd while nothing is in flight, like an idle keep-alive socket.
 */
export class WorkerTransport implements Transport {
  readonly kind = 'worker' as const;
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(
    private readonly script: URL,
    private readonly connectTimeoutMs: number,
  ) {}

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.script, {
      workerData: { connectTimeoutMs: this.connectTimeoutMs },
      name: 'rupaya-flags-transport',
      // None of the process's flags: the worker runs only this package's HTTP code, some inherited
      // flags break it (`--input-type=module`), V8 flags passed explicitly are refused
      // (`--expose-gc`), and preloads (`--require`/`--import` agents) have no business here.
      execArgv: [],
    });
    worker.on('message', (msg: FromWorker) => {
      const p = this.pending.get(msg.id);
      if (p?.onMessage(msg)) this.settle(msg.id);
    });
    const lost = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const [id, p] of [...this.pending]) {
        this.pending.delete(id);
        p.cleanup?.();
        p.fail(err);
      }
    };
    worker.on('error', (err) => lost(err));
    worker.on('exit', (code) => lost(new Error(`transport worker exited (${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private post(msg: ToWorker): void {
    this.worker?.postMessage(msg);
  }

  private track(id: number, p: Pending): void {
    this.pending.set(id, p);
    if (this.pending.size === 1) this.worker?.ref();
  }

  private settle(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.cleanup?.();
    if (this.pending.size === 0) this.worker?.unref();
  }

  private start(
    req: TransportRequest,
    signal: AbortSignal | undefined,
    op: 'send' | 'stream',
    p: Pending,
  ): number {
    if (this.closed) throw new Error('transport closed');
    const id = this.nextId++;
    this.ensureWorker();
    this.track(id, p);
    if (signal) {
      const onAbort = () => {
        if (!this.pending.has(id)) return;
        this.post({ op: 'abort', id });
        this.settle(id);
        p.fail(abortError());
      };
      if (signal.aborted) queueMicrotask(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        p.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
    }
    this.post({ op, id, req });
    return id;
  }

  send(req: TransportRequest, signal?: AbortSignal): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      this.start(req, signal, 'send', {
        onMessage(msg) {
          if (msg.kind === 'response') resolve(msg.res);
          else if (msg.kind === 'error') reject(fromWire(msg.error));
          return true;
        },
        fail: reject,
      });
    });
  }

  stream(req: TransportRequest, signal: AbortSignal): Promise<StreamResponse> {
    return new Promise((resolve, reject) => {
      let queue: ChunkQueue | undefined;
      const id = this.start(req, signal, 'stream', {
        onMessage: (msg) => {
          switch (msg.kind) {
            case 'head': {
              const q = new ChunkQueue(() => {
                this.post({ op: 'abort', id });
                this.settle(id);
              });
              queue = q;
              resolve({
                statusCode: msg.statusCode,
                headers: msg.headers,
                chunks: { [Symbol.asyncIterator]: () => q.iterate() },
                discard: async () => {
                  q.end();
                  this.post({ op: 'abort', id });
                  this.settle(id);
                },
              });
              return false;
            }
            case 'chunk':
              queue?.push(msg.data);
              return false;
            case 'end':
              queue?.end();
              return true;
            case 'error': {
              const err = fromWire(msg.error);
              if (queue) queue.end(err);
              else reject(err);
              return true;
            }
            default:
              return false;
          }
        },
        fail: (err) => {
          if (queue) queue.end(err);
          else reject(err);
        },
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    this.post({ op: 'close' });
    const timer = setTimeout(() => void worker.terminate(), 2_000);
    await exited;
    clearTimeout(timer);
  }
}
