// Whether the database is reachable, as the service last saw it. Writes that fail with a connection
// error mark it unavailable; the snapshot service's probe marks it available again.
import type { EventEmitter } from 'node:events';

export class StorageHealth {
  available = true;
  lastError: string | undefined;
  changedAt = new Date();

  constructor(private readonly events?: EventEmitter) {}

  markUnavailable(err?: unknown): void {
    this.lastError = err instanceof Error ? err.message : err === undefined ? undefined : String(err);
    if (!this.available) return;
    this.available = false;
    this.changedAt = new Date();
    this.events?.emit('storage.unavailable', { error: this.lastError });
  }

  markAvailable(): void {
    if (this.available) return;
    this.available = true;
    this.lastError = undefined;
    this.changedAt = new Date();
    this.events?.emit('storage.available', {});
  }
}
