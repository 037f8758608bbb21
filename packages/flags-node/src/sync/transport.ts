import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import type { Agent } from 'undici';

type Undici = typeof import('undici');
let undici: Undici | undefined;

/**
 * undici, loaded when the first inline transport is made: never on the application's thread with the
 * default worker transport. Loading undici there is enough to put some processes in a slow state for
 * their whole life, once they later start a worker thread (measured on Node 20: a Fastify
 * hello-world served 20–30% fewer requests per second; see bench/README.md, issue 5).
 */
function loadUndici(): Undici {
  undici ??= createRequire(import.meta.url)('undici') as Undici;
  return undici;
}

/**
 * The SDK's only door to the network: every request the client makes (snapshot, SSE stream,
 * metrics, exposures, events) goes through one of these. `UndiciTransport` runs undici in the
 * calling thread; `WorkerTransport` (the default) runs the same code on a worker thread.
 */
export interface TransportRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Time to the response headers. */
  headersTimeoutMs: number;
  /** Longest silence while reading the body. */
  bodyTimeoutMs: number;
}

export interface TransportResponse {
  statusCode: number;
  headers: Record<string, string>;
  /** The whole body as UTF-8 text, already gunzipped when the server sent gzip. */
  body: string;
}

export interface StreamResponse {
  statusCode: number;
  headers: Record<string, string>;
  /** The body as UTF-8 text chunks; ends when the server closes, throws on errors and on abort. */
  chunks: AsyncIterable<string>;
  /** Drops the rest of the body (for a response that is not the expected stream). */
  discard(): Promise<void>;
}

export interface Transport {
  readonly kind: 'worker' | 'inline';
  send(req: TransportRequest, signal?: AbortSignal): Promise<TransportResponse>;
  stream(req: TransportRequest, signal: AbortSignal): Promise<StreamResponse>;
  /** Closes its connections (and the worker). Requests still running fail. */
  close(): Promise<void>;
}

/** Header values as single strings (undici may give arrays for repeated headers). */
function flatHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** UTF-8 text of a byte stream, chunk by chunk (a character split across chunks is kept whole). */
async function* utf8Chunks(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of body) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const rest = decoder.decode();
  if (rest) yield rest;
}

/** undici in the calling thread; one Agent per transport, so close() tears down its sockets. */
export class UndiciTransport implements Transport {
  readonly kind = 'inline' as const;
  private readonly agent: Agent;
  private closed = false;

  constructor(connectTimeoutMs: number) {
    this.agent = new (loadUndici().Agent)({
      connect: { timeout: connectTimeoutMs },
      keepAliveTimeout: 10_000,
      pipelining: 0,
    });
  }

  private dispatch(req: TransportRequest, signal: AbortSignal | undefined) {
    if (this.closed) return Promise.reject(new Error('transport closed'));
    return loadUndici().request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      dispatcher: this.agent,
      signal,
      headersTimeout: req.headersTimeoutMs,
      bodyTimeout: req.bodyTimeoutMs,
    });
  }

  async send(req: TransportRequest, signal?: AbortSignal): Promise<TransportResponse> {
    const res = await this.dispatch(req, signal);
    const raw = Buffer.from(await res.body.arrayBuffer());
    const headers = flatHeaders(res.headers);
    const gzip = (headers['content-encoding'] ?? '').includes('gzip');
    const body = gzip && raw.length > 0 ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
    return { statusCode: res.statusCode, headers, body };
  }

  async stream(req: TransportRequest, signal: AbortSignal): Promise<StreamResponse> {
    const res = await this.dispatch(req, signal);
    const body = res.body;
    return {
      statusCode: res.statusCode,
      headers: flatHeaders(res.headers),
      chunks: utf8Chunks(body),
      discard: () => body.dump().then(() => undefined),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.agent.destroy().catch(() => {});
  }
}
