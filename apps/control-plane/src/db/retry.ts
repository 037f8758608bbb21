// Write transactions that survive lock contention: a serialization failure (SQLSTATE 40001) or a
// deadlock (40P01) aborts the whole transaction, and running it again is the documented remedy. Only
// an outermost transaction is retried: inside another one (a savepoint) the caller's transaction is
// aborted as well, so the error goes up to whoever opened it.
import { PgTransaction } from 'drizzle-orm/pg-core';
import type { DbOrTx, Tx } from './client';

const RETRYABLE = new Set(['40001', '40P01']);

/** Attempts of a write transaction in all (the first one and two retries). */
export const WRITE_ATTEMPTS = 3;

/** True when `err` (or its cause chain: drizzle wraps driver errors) is a serialization failure or deadlock. */
export function isRetryableConflict(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * `db.transaction(fn)`, run again (up to WRITE_ATTEMPTS in all, after a short randomised pause) when
 * it fails with a serialization failure or deadlock. `fn` must not have effects outside the
 * transaction that a second run would repeat.
 */
export async function writeTransaction<T>(db: DbOrTx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const nested = db instanceof PgTransaction;
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(fn);
    } catch (err) {
      if (nested || attempt >= WRITE_ATTEMPTS || !isRetryableConflict(err)) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 20 * attempt)));
    }
  }
}
