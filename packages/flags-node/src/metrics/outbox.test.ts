import { describe, expect, it } from 'vitest';
import { type Batch, Outbox, recordsOf } from './outbox';

const exposures = (batchKey: string, n: number): Batch => ({
  kind: 'exposures',
  path: '/api/sdk/v1/exposures',
  body: {
    instanceId: 'i',
    batchKey,
    exposures: Array.from({ length: n }, (_, k) => ({
      flag: 'f',
      unitKey: `${batchKey}-${k}`,
      variant: 'a',
      timestamp: k,
    })),
  },
});

const metrics = (batchKey: string, dropped?: number): Batch => ({
  kind: 'metrics',
  path: '/api/sdk/v1/metrics',
  body: { instanceId: 'i', batchKey, windows: [], ...(dropped ? { dropped } : {}) },
});

describe('Outbox', () => {
  it('keeps batches in order with their keys', () => {
    const box = new Outbox(100);
    box.push(exposures('a', 3));
    box.push(metrics('b'));
    expect(box.records).toBe(4);
    expect(box.shift()?.body.batchKey).toBe('a');
    expect(box.peek()?.body.batchKey).toBe('b');
    expect(box.records).toBe(1);
  });

  it('drops the oldest records beyond the bound and counts them', () => {
    const box = new Outbox(10);
    box.push(exposures('a', 6));
    box.push(exposures('b', 6));
    expect(box.records).toBe(10);
    expect(box.dropped).toBe(2);
    expect(box.droppedTotal).toBe(2);
    const first = box.peek();
    expect(first?.kind).toBe('exposures');
    if (first?.kind === 'exposures') {
      // The two oldest exposures of batch a went first; its key is unchanged.
      expect(first.body.batchKey).toBe('a');
      expect(first.body.exposures.map((e) => e.unitKey)).toEqual(['a-2', 'a-3', 'a-4', 'a-5']);
    }
    box.push(exposures('c', 10));
    expect(box.records).toBe(10);
    expect(box.length).toBe(1);
    expect(box.droppedTotal).toBe(12);
  });

  it('carries the drop count of a dropped metrics batch forward', () => {
    const box = new Outbox(2);
    box.push(metrics('m1', 5));
    box.dropped = 0;
    box.push(exposures('e', 2));
    // m1 (1 record, reporting 5 drops) went, so 1 + 5 drops are now unreported.
    expect(box.peek()?.body.batchKey).toBe('e');
    expect(box.dropped).toBe(6);
    expect(recordsOf(box.peek()!)).toBe(2);
  });
});
