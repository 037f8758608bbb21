import type { TransportRequest, TransportResponse } from './transport';

/** Messages between `WorkerTransport` (main thread) and `transport-worker` (the worker). */
export type ToWorker =
  | { op: 'send'; id: number; req: TransportRequest }
  | { op: 'stream'; id: number; req: TransportRequest }
  | { op: 'abort'; id: number }
  | { op: 'close' };

export interface WireError {
  name: string;
  message: string;
  code?: string;
}

export type FromWorker =
  | { id: number; kind: 'response'; res: TransportResponse }
  | { id: number; kind: 'head'; statusCode: number; headers: Record<string, string> }
  | { id: number; kind: 'chunk'; data: string }
  | { id: number; kind: 'end' }
  | { id: number; kind: 'error'; error: WireError };

export function toWire(err: unknown): WireError {
  const e = err as { name?: unknown; message?: unknown; code?: unknown };
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  };
}

export function fromWire(w: WireError): Error {
  const err = new Error(w.message) as Error & { code?: string };
  err.name = w.name;
  if (w.code !== undefined) err.code = w.code;
  return err;
}
