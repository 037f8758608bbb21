// Test helpers: snapshots with real checksums, a capturing logger, and a small loopback HTTP server
// speaking the SDK wire protocol, used for edge cases the real control plane never produces
// (corrupt bodies, wrong environments, a server that accepts and never answers). Flows against the
// real control plane live in e2e/sdk.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Flag, Snapshot } from '@rupaya/flags-core';
import type { Logger } from '../src/logger';
import { snapshotChecksum } from '../src/snapshot/verify';

export function makeSnapshot(
  revision: number,
  flags: Flag[],
  extra: Partial<Omit<Snapshot, 'flags' | 'revision' | 'checksum'>> = {},
): Snapshot {
  const base: Snapshot = {
    schemaVersion: 1,
    environment: 'prod',
    revision,
    checksum: '',
    generatedAt: '2026-01-01T00:00:00.000Z',
    cacheTtlSec: 300,
    metricsWindowMs: 1000,
    metricsFlushMs: 1000,
    flags,
    ...extra,
  };
  base.checksum = snapshotChecksum(base);
  return base;
}

export const boolFlag = (key: string, enabled: boolean): Flag => ({ key, type: 'boolean', enabled });

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

export function captureLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (message: string) => {
    lines.push({ level, message });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** Loopback server: handlers per route, SSE clients kept open, every request recorded. */
export class LoopbackServer {
  readonly server: Server;
  readonly received: Received[] = [];
  readonly streams = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  handle: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_q, res) => {
    res.statusCode = 404;
    res.end();
  };

  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        let parsed: unknown = body;
        try {
          parsed = body ? JSON.parse(body) : undefined;
        } catch {
          // keep the raw text
        }
        this.received.push({ path: req.url ?? '', headers: req.headers, body: parsed });
        this.handle(req, res, body);
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Opens an SSE response and keeps it. */
  openStream(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
  }

  pushSnapshot(data: string, id: number | string): void {
    for (const s of this.streams) s.write(`id: ${id}\nevent: snapshot\ndata: ${data}\n\n`);
  }

  dropStreams(): void {
    for (const s of this.streams) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
