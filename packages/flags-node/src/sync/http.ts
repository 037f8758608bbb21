import { gunzipSync } from 'node:zlib';
import { Agent, request } from 'undici';

export interface HttpSettings {
  baseUrl: string;
  sdkKey: string;
  requestTimeoutMs: number;
  userAgent: string;
}

export class HttpStatusError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: string,
    path: string,
  ) {
    super(`${path} answered ${statusCode}${body ? `: ${body.slice(0, 200)}` : ''}`);
    this.name = 'HttpStatusError';
  }

  /** 408, 429 and 5xx may succeed later; other 4xx will not. */
  get retryable(): boolean {
    return this.statusCode === 408 || this.statusCode === 429 || this.statusCode >= 500;
  }
}

/** One undici Agent per client, so close() can tear down its sockets (including a hanging stream). */
export function createAgent(requestTimeoutMs: number): Agent {
  return new Agent({
    connect: { timeout: requestTimeoutMs },
    keepAliveTimeout: 10_000,
    pipelining: 0,
  });
}

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

export interface SnapshotResponse {
  status: 200 | 304;
  body?: string;
  etag?: string;
}

export async function fetchSnapshot(
  agent: Agent,
  http: HttpSettings,
  etag: string | undefined,
  signal: AbortSignal,
): Promise<SnapshotResponse> {
  const path = '/api/sdk/v1/snapshot';
  const headers: Record<string, string> = {
    authorization: `Bearer ${http.sdkKey}`,
    accept: 'application/json',
    'accept-encoding': 'gzip',
    'user-agent': http.userAgent,
  };
  if (etag) headers['if-none-match'] = etag;
  const res = await request(joinUrl(http.baseUrl, path), {
    method: 'GET',
    headers,
    dispatcher: agent,
    signal,
    headersTimeout: http.requestTimeoutMs,
    bodyTimeout: http.requestTimeoutMs,
  });
  if (res.statusCode === 304) {
    await res.body.dump();
    return { status: 304, etag };
  }
  const raw = Buffer.from(await res.body.arrayBuffer());
  const encoding = String(res.headers['content-encoding'] ?? '');
  const text = encoding.includes('gzip') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  if (res.statusCode !== 200) throw new HttpStatusError(res.statusCode, text, path);
  const tag = res.headers.etag;
  return { status: 200, body: text, etag: typeof tag === 'string' ? tag : undefined };
}

export interface PostResult {
  statusCode: number;
  body: unknown;
}

export async function postJson(
  agent: Agent,
  http: HttpSettings,
  path: string,
  payload: unknown,
  signal?: AbortSignal,
): Promise<PostResult> {
  const res = await request(joinUrl(http.baseUrl, path), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${http.sdkKey}`,
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': http.userAgent,
    },
    body: JSON.stringify(payload),
    dispatcher: agent,
    signal,
    headersTimeout: http.requestTimeoutMs,
    bodyTimeout: http.requestTimeoutMs,
  });
  const text = await res.body.text();
  if (res.statusCode < 200 || res.statusCode >= 300) throw new HttpStatusError(res.statusCode, text, path);
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // keep the text
  }
  return { statusCode: res.statusCode, body };
}
