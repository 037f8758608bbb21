// A small HTTP client for the admin API: bearer auth, `?environment=`, JSON bodies, and the error catalogue's
// `{ error: { code, message, field? } }` turned into CliApiError.
import { CliApiError } from './errors';

export const ADMIN_PREFIX = '/api/admin/deployment';

export interface ClientOptions {
  url: string;
  token?: string;
  environment?: string;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
}

export type Query = Record<string, string | number | undefined>;

export class AdminClient {
  readonly baseUrl: string;
  constructor(readonly options: ClientOptions) {
    this.baseUrl = options.url.replace(/\/+$/, '');
  }

  /** Path under /api/admin/deployment with each segment URL-encoded. */
  static path(...segments: string[]): string {
    return `${ADMIN_PREFIX}/${segments.map(encodeURIComponent).join('/')}`;
  }

  async request<T = unknown>(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; auth?: boolean; environment?: boolean } = {},
  ): Promise<T> {
    const url = new URL(this.baseUrl + path);
    const withEnv = opts.environment ?? true;
    if (withEnv && this.options.environment) url.searchParams.set('environment', this.options.environment);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if ((opts.auth ?? true) && this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const fetchImpl = this.options.fetchImpl ?? fetch;
    let res: Response;
    try {
      res = await fetchImpl(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string; errors?: { code?: string }[] } };
      const detail = e.cause?.code ?? e.cause?.errors?.[0]?.code ?? e.cause?.message ?? e.message;
      throw new CliApiError('NETWORK_ERROR', `cannot reach ${this.baseUrl}: ${detail}`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    if (!res.ok) {
      const error = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } } | undefined)
        ?.error;
      if (error && typeof error.code === 'string') {
        throw new CliApiError(
          error.code,
          typeof error.message === 'string' ? error.message : error.code,
          res.status,
          typeof error.field === 'string' ? error.field : undefined,
        );
      }
      throw new CliApiError(
        `HTTP_${res.status}`,
        `${method} ${url.pathname} answered ${res.status}`,
        res.status,
      );
    }
    return body as T;
  }
}
