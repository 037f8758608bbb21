// The control plane goes away and comes back (PGlite in a data folder, restarted on the same port):
// the client keeps serving its last values, backs off, and resumes by itself; a service restarted
// while the control plane is down serves its cache file as STALE at once.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type FlagsClient } from '@rupaya/flags-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApi, PLANE_TIMEOUT_MS, type Plane, removeDir, startPlane, waitFor } from './plane';

let plane: Plane | undefined;
let dataDir: string;
let port: number;
let sdkKey: string;
let cacheDir: string;
const clients: FlagsClient[] = [];

function logger() {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { lines, debug() {}, info() {}, warn: push, error: push };
}

beforeAll(async () => {
  plane = await startPlane();
  dataDir = plane.dataDir;
  port = plane.port;
  cacheDir = mkdtempSync(join(tmpdir(), 'rupaya-cache-'));
  const admin = new AdminApi(plane.url);
  await admin.createFlag({ key: 'e2e.outage-flag', type: 'boolean', enabled: true });
  sdkKey = await admin.sdkKey('prod');
}, PLANE_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await plane?.close();
  removeDir(dataDir);
  removeDir(cacheDir);
});

describe('control plane outage', () => {
  it(
    'keeps serving, backs off, resumes by itself; a restart with the plane down serves the cache as STALE',
    async () => {
      const cacheFile = join(cacheDir, 'flags.json');
      const log = logger();
      const url = plane!.url;
      const c = createClient({
        url,
        sdkKey,
        cacheFile,
        pollIntervalMs: 1000,
        requestTimeoutMs: 2000,
        backoff: { initialMs: 50, maxMs: 800 },
        metrics: { enabled: false },
        logger: log,
      });
      clients.push(c);
      expect(await c.ready({ timeoutMs: 10_000 })).toBe('READY');
      expect(c.isEnabled('e2e.outage-flag', { userId: 'u1' })).toBe(true);
      const revision = c.revision!;

      // Down.
      await plane!.close();
      plane = undefined;
      const before = log.lines.length;
      await new Promise((r) => setTimeout(r, 2500));
      const failures = log.lines.slice(before).filter((l) => /reconnecting in|next poll in/.test(l));
      // Two loops (stream + poll) retrying every 50 ms would log ~100 lines in 2.5 s; with backoff
      // capped at 800 ms (full jitter) far fewer.
      expect(failures.length).toBeGreaterThan(2);
      expect(failures.length).toBeLessThan(40);
      expect(c.isEnabled('e2e.outage-flag', { userId: 'u1' })).toBe(true);
      expect(c.evaluate('e2e.outage-flag', { userId: 'u1' }).reason).toBe('DEFAULT');
      expect(c.state).toBe('READY'); // within cacheTtlSec the last values are simply current

      // Back, on the same port and data: the client reconnects by itself and sees a new change.
      plane = await startPlane({ dataDir, port });
      const admin = new AdminApi(plane.url);
      await admin.updateFlag('e2e.outage-flag', { enabled: false, reason: 'after outage' }, 'prod');
      await waitFor(() => !c.isEnabled('e2e.outage-flag', { userId: 'u1' }), 15_000, 'client resumes');
      expect(c.revision!).toBeGreaterThan(revision);
      const lastRevision = c.revision!;
      await waitFor(async () => {
        const { readFileSync } = await import('node:fs');
        try {
          return JSON.parse(readFileSync(cacheFile, 'utf8')).snapshot.revision === lastRevision;
        } catch {
          return false;
        }
      });
      await c.close();

      // The service restarts while the control plane is down: last values at once, as STALE.
      await plane.close();
      plane = undefined;
      const restarted = createClient({
        url,
        sdkKey,
        cacheFile,
        backoff: { initialMs: 50, maxMs: 800 },
        metrics: { enabled: false },
        logger: logger(),
      });
      clients.push(restarted);
      expect(restarted.state).toBe('STALE');
      expect(restarted.evaluate('e2e.outage-flag', { userId: 'u1' })).toMatchObject({
        enabled: false,
        reason: 'STALE',
        revision: lastRevision,
      });
      const t0 = Date.now();
      expect(await restarted.ready({ timeoutMs: 5000 })).toBe('STALE');
      expect(Date.now() - t0).toBeLessThan(3000);

      // And when the control plane returns, the same client becomes READY without a restart.
      plane = await startPlane({ dataDir, port });
      await waitFor(() => restarted.state === 'READY', 15_000, 'READY after the plane returns');
    },
    PLANE_TIMEOUT_MS * 2,
  );
});
