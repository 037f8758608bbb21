import type { Transport } from './transport';

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

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

export interface SnapshotResponse {
  status: 200 | 304;
  body?: string;
  etag?: string;
}

export async function fetchSnapshot(
  transport: Transport,
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
  const res = await transport.send(
    {
      method: 'GET',
      url: joinUrl(http.baseUrl, path),
      headers,
      headersTimeoutMs: http.requestTimeoutMs,
      bodyTimeoutMs: http.requestTimeoutMs,
    },
    signal,
  );
  if (res.statusCode === 304) return { status: 304, etag };
  if (res.statusCode !== 200) throw new HttpStatusError(res.statusCode, res.body, path);
  return { status: 200, body: res.body, etag: res.headers.etag };
}

export interface PostResult {
  statusCode: number;
  body: unknown;
}

export async function postJson(
  transport: Transport,
  http: HttpSettings,
  path: string,
  payload: unknown,
  signal?: AbortSignal,
): Promise<PostResult> {
  const res = await transport.send(
    {
      method: 'POST',
      url: joinUrl(http.baseUrl, path),
      headers: {
        authorization: `Bearer ${http.sdkKey}`,
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': http.userAgent,
      },
      body: JSON.stringify(payload),
      headersTimeoutMs: http.requestTimeoutMs,
      bodyTimeoutMs: http.requestTimeoutMs,
    },
    signal,
  );
  const text = res.body;
  if (res.statusCode < 200 || res.statusCode >= 300) throw new HttpStatusError(res.statusCode, text, path);
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // keep the text
  }
  return { statusCode: res.statusCode, body };
}
