// Shared by the control-plane tests: a real server on loopback over a fresh database, and a tiny
// HTTP client that returns status, parsed body and headers.
import http from 'node:http';
import { expect } from 'vitest';
import type { StorageKind } from '../src/index';
import {
  createTestDatabase,
  type RunningControlPlane,
  startControlPlane,
  type TestDatabase,
} from '../src/index';

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T & { error?: { code: string; message: string; field?: string } };
  text: string;
  headers: Headers;
}

export interface TestServer {
  cp: RunningControlPlane;
  database: TestDatabase;
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; headers?: Record<string, string>; token?: string | null },
  ): Promise<Reply<T>>;
  /** Creates an SDK key for an environment. */
  sdkKey(environment: string): Promise<string>;
  close(): Promise<void>;
}

export const FLAGS = '/api/admin/deployment/feature-flags';

export function clientFor(url: string, defaultToken: string) {
  return async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: {
      body?: unknown;
      rawBody?: string;
      headers?: Record<string, string>;
      token?: string | null;
    } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? defaultToken : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers['content-type'] ??= 'application/json';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = {};
    if (text && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as Reply<T>['body'], text, headers: res.headers };
  };
}

/** Starts a control plane on a fresh database of `kind`; `close()` stops it and drops the database. */
export async function startTestServer(
  kind: StorageKind,
  env: Record<string, string> = {},
): Promise<TestServer> {
  const database = await createTestDatabase(kind);
  const cp = await startControlPlane({
    databaseUrl: database.databaseUrl,
    dataDir: database.dataDir,
    env: { DB_PROBE_INTERVAL_MS: '200', ...env },
  });
  const call = clientFor(cp.url, cp.adminToken);
  return {
    cp,
    database,
    call,
    async sdkKey(environment) {
      const r = await call<{ key: string }>('POST', '/api/admin/deployment/sdk-keys', {
        body: { environment },
      });
      if (r.status !== 201) throw new Error(`sdk key: ${r.status} ${r.text}`);
      return r.body.key;
    },
    async close() {
      await cp.close();
      await database.drop();
    },
  };
}

/** Asserts the catalogue shape of an error reply (and that the message names the field, when given). */
export function expectError(
  reply: { status: number; body: { error?: { code: string; message: string; field?: string } } },
  status: number,
  code: string,
  field?: string,
): void {
  expect({ status: reply.status, code: reply.body.error?.code }).toEqual({ status, code });
  expect(typeof reply.body.error?.message).toBe('string');
  if (field !== undefined) {
    expect(reply.body.error?.field).toBe(field);
    expect(reply.body.error?.message).toContain(field);
  }
}

/** GET without automatic decompression: the bytes as sent. */
export function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

export interface SseClient {
  status: number;
  headers: import('node:http').IncomingHttpHeaders;
  events: SseEvent[];
  /** Resolves with the first event (from index `from`) matching `pred`. */
  waitFor(pred: (e: SseEvent) => boolean, timeoutMs?: number, from?: number): Promise<SseEvent>;
  close(): void;
}

/** A real SSE connection parsed frame by frame (comments kept as `{ comment }`). */
export function openSse(url: string, headers: Record<string, string>): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const waiters = new Set<() => void>();
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let idx = buf.indexOf('\n\n');
        while (idx >= 0) {
          const frame = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          const ev: SseEvent = {};
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) ev.comment = line.slice(1).trim();
            else {
              const i = line.indexOf(':');
              const k = line.slice(0, i);
              const v = line.slice(i + 1).replace(/^ /, '');
              if (k === 'id' || k === 'event' || k === 'data') ev[k] = v;
            }
          }
          events.push(ev);
          idx = buf.indexOf('\n\n');
        }
        for (const w of waiters) w();
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        waitFor(pred, timeoutMs = 5000, from = 0) {
          return new Promise((res2, rej2) => {
            const check = () => {
              const found = events.slice(from).find(pred);
              if (found) {
                waiters.delete(check);
                clearTimeout(timer);
                res2(found);
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rej2(
                new Error(
                  `no matching SSE event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.id ?? e.comment))}`,
                ),
              );
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        close() {
          req.destroy();
        },
      });
    });
    req.on('error', (err) => {
      if ((err as { code?: string }).code !== 'ECONNRESET') reject(err);
    });
  });
}
