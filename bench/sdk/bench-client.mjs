// The flags client of the in-process sdk workers (sdk-work.mjs, stack-work.mjs): one canary at its
// 10% stage in a bootstrap snapshot, metrics on, nothing sent during a run (no control plane; flush
// interval of an hour).
import { createClient, snapshotChecksum } from '@rupaya/flags-node';

export const FLAG = 'canary.new-payment-processor';

export function benchClient() {
  const snapshot = {
    schemaVersion: 1,
    environment: 'dev',
    revision: 3,
    checksum: '',
    generatedAt: '2026-11-25T00:00:00.000Z',
    flags: [
      {
        key: FLAG,
        type: 'boolean',
        enabled: true,
        stages: [
          { percent: 10, minDurationSec: 60 },
          { percent: 100, minDurationSec: 0 },
        ],
        canary: { stage: 0, status: 'progressing', stageStartedAt: '2026-11-25T00:00:00.000Z' },
      },
    ],
  };
  snapshot.checksum = snapshotChecksum(snapshot);
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  return createClient({
    url: 'http://127.0.0.1:1',
    sdkKey: 'rpy_sdk_bench',
    bootstrap: snapshot,
    streaming: false,
    pollIntervalMs: 3_600_000,
    metrics: { enabled: true, flushIntervalMs: 3_600_000, gauges: false },
    logger: silent,
  });
}
