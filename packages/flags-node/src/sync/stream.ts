import { Backoff, type BackoffOptions } from './backoff';
import { HttpStatusError, joinUrl, type HttpSettings } from './http';
import { SseParser } from './sse-parser';
import type { Transport } from './transport';

export interface StreamCallbacks {
  /** A `snapshot` event; `id` is the event id (the revision). */
  onSnapshot(data: string, id: string | undefined): void;
  /** Any bytes arrived (snapshot, heartbeat): the server is alive. */
  onAlive(): void;
  onConnected(): void;
  onDisconnected(err: Error | undefined, retryInMs: number): void;
  /** Revision to resume from (sent as Last-Event-ID). */
  lastEventId(): string | undefined;
}

export interface StreamOptions {
  http: HttpSettings;
  transport: Transport;
  backoff?: BackoffOptions;
  /** No byte for this long (heartbeats included) ends the connection and reconnects. */
  idleTimeoutMs: number;
}

/** Keeps one SSE connection to /api/sdk/v1/stream open, reconnecting with full-jitter backoff. */
export class SnapshotStream {
  private readonly backoff: Backoff;
  private readonly controller = new AbortController();
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  connected = false;

  constructor(
    private readonly options: StreamOptions,
    private readonly callbacks: StreamCallbacks,
  ) {
    this.backoff = new Backoff(options.backoff);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      let failure: Error | undefined;
      try {
        await this.connectOnce(signal);
      } catch (err) {
        failure = err as Error;
      }
      if (this.connected) {
        this.connected = false;
      }
      if (signal.aborted) return;
      const delay = this.backoff.next();
      this.callbacks.onDisconnected(failure, delay);
      await this.sleep(delay);
    }
  }

  private async connectOnce(signal: AbortSignal): Promise<void> {
    const { http } = this.options;
    const path = '/api/sdk/v1/stream';
    const headers: Record<string, string> = {
      authorization: `Bearer ${http.sdkKey}`,
      accept: 'text/event-stream',
      'cache-control': 'no-cache',
      'user-agent': http.userAgent,
    };
    const last = this.callbacks.lastEventId();
    if (last !== undefined) headers['last-event-id'] = last;
    const res = await this.options.transport.stream(
      {
        method: 'GET',
        url: joinUrl(http.baseUrl, path),
        headers,
        headersTimeoutMs: http.requestTimeoutMs,
        bodyTimeoutMs: this.options.idleTimeoutMs,
      },
      signal,
    );
    if (res.statusCode !== 200) {
      let text = '';
      try {
        for await (const chunk of res.chunks) {
          text += chunk;
          if (text.length > 4096) break;
        }
      } catch {
        // the status is what matters
      }
      throw new HttpStatusError(res.statusCode, text, path);
    }
    const contentType = res.headers['content-type'] ?? '';
    if (!contentType.includes('text/event-stream')) {
      await res.discard();
      throw new Error(`${path} answered with content-type "${contentType}", not text/event-stream`);
    }
    this.connected = true;
    this.callbacks.onConnected();
    let healthy = false;
    const parser = new SseParser({
      onEvent: (event) => {
        if (event.event === 'snapshot') this.callbacks.onSnapshot(event.data, event.id);
      },
    });
    for await (const chunk of res.chunks) {
      if (!healthy) {
        // Only a connection that delivered something resets the backoff, so a server that accepts
        // and closes at once is still retried with growing delays.
        healthy = true;
        this.backoff.reset();
      }
      this.callbacks.onAlive();
      parser.push(chunk);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
      this.sleepTimer.unref();
    });
  }
}
