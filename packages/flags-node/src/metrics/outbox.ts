import { randomUUID } from 'node:crypto';
import type { EventBatch, ExposureBatch, MetricsBatch } from '@rupaya/flags-core';

export type Batch =
  | { kind: 'metrics'; path: '/api/sdk/v1/metrics'; body: MetricsBatch }
  | { kind: 'exposures'; path: '/api/sdk/v1/exposures'; body: ExposureBatch }
  | { kind: 'events'; path: '/api/sdk/v1/events'; body: EventBatch };

/** Records a batch holds, for the buffer bound (a metrics batch with only counters still counts 1). */
export function recordsOf(batch: Batch): number {
  switch (batch.kind) {
    case 'metrics':
      return Math.max(1, batch.body.windows.length + (batch.body.gauges?.length ?? 0));
    case 'exposures':
      return batch.body.exposures.length;
    case 'events':
      return batch.body.events.length;
  }
}

export function newBatchKey(): string {
  return randomUUID();
}

/**
 * Batches waiting to be sent, oldest first. The key of a batch is fixed when it is made, so a batch
 * retried after a lost response is recognised by the control plane and counted once. The buffer is
 * bounded in records: beyond `maxRecords` the oldest records go first and are counted in `dropped`.
 */
export class Outbox {
  private readonly queue: Batch[] = [];
  private size = 0;
  /** Records dropped and not yet reported. */
  dropped = 0;
  /** Records dropped over the client's life. */
  droppedTotal = 0;

  constructor(private readonly maxRecords: number) {}

  get records(): number {
    return this.size;
  }

  get length(): number {
    return this.queue.length;
  }

  push(batch: Batch): void {
    this.queue.push(batch);
    this.size += recordsOf(batch);
    this.enforceBound();
  }

  peek(): Batch | undefined {
    return this.queue[0];
  }

  /** Every batch still queued, oldest first (a copy). */
  snapshot(): Batch[] {
    return [...this.queue];
  }

  shift(): Batch | undefined {
    const batch = this.queue.shift();
    if (batch) this.size -= recordsOf(batch);
    return batch;
  }

  /** Drops from the oldest batches until the bound holds. */
  enforceBound(extraRecords = 0): void {
    while (this.size + extraRecords > this.maxRecords && this.queue.length > 0) {
      const oldest = this.queue[0]!;
      const excess = this.size + extraRecords - this.maxRecords;
      const n = recordsOf(oldest);
      if (n <= excess || oldest.kind === 'metrics') {
        this.queue.shift();
        this.size -= n;
        this.count(n);
        if (oldest.kind === 'metrics' && oldest.body.dropped) {
          // Its drop count would be lost with it; carry it to the next batch.
          this.dropped += oldest.body.dropped;
        }
        continue;
      }
      if (oldest.kind === 'exposures') oldest.body.exposures.splice(0, excess);
      else oldest.body.events.splice(0, excess);
      this.size -= excess;
      this.count(excess);
    }
  }

  private count(n: number): void {
    this.dropped += n;
    this.droppedTotal += n;
  }
}
