// The control plane's database is restored from a backup (PGlite: the data folder copied back; Postgres:
// the database re-created from a copy), so its revisions start again below what the SDKs hold. SDKs
// refuse a snapshot older than theirs, so without help they would ignore the control plane until its
// revisions caught up: a kill switch thrown after the restore would not reach them. The control plane
// sees the newer revision they claim (Last-Event-ID, If-None-Match) and moves its revision past it:
// running clients (streaming and polling) and a service restarted from its cache file all take the
// restored flags, and the next change, within seconds.
import { cpSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  storageKinds,
  type TestDatabase,
  withAdminConnection,
} from '@rupaya/control-plane';
import { createClient, type FlagsClient } from '@rupaya/flags-node';
import { afterAll, describe, expect, it } from 'vitest';
import { AdminApi, PLANE_TIMEOUT_MS, type Plane, removeDir, silent, startPlane, waitFor } from './plane';

const FLAG = 'e2e.restore-flag';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe.each(storageKinds)('a control plane restored from a backup (%s)', (kind) => {
  const clients: FlagsClient[] = [];
  const dirs: string[] = [];
  let db: TestDatabase | undefined;
  let backupName: string | undefined;
  let plane: Plane | undefined;

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await plane?.close();
    await db?.drop();
    if (backupName) {
      const name = backupName;
      await withAdminConnection((sql) => sql.unsafe(`drop database if exists ${name} with (force)`));
    }
    for (const d of dirs) removeDir(d);
  });

  it(
    'SDKs that hold a newer revision take the restored flags and the next change',
    async () => {
      db = await createTestDatabase(kind);
      const port = await freePort();
      const dataDir = db.dataDir ?? mkdtempSync(join(tmpdir(), 'rupaya-restore-'));
      if (!db.dataDir) dirs.push(dataDir);
      const start = () =>
        startPlane({ port, ...(db!.databaseUrl ? { databaseUrl: db!.databaseUrl } : { dataDir }) });
      plane = await start();
      let admin = new AdminApi(plane.url);
      await admin.createFlag({ key: FLAG, type: 'boolean', enabled: true }, 'prod');
      await admin.updateFlag(FLAG, { enabled: true, reason: 'before the backup' }, 'staging');
      const sdkKey = await admin.sdkKey('prod');
      // Staging's only client is a service that is stopped during the restore and restarted from its
      // cache file after it: the only one to tell the control plane which revision it holds.
      const stagingKey = await admin.sdkKey('staging');

      // The backup, taken with the control plane stopped.
      await plane.close();
      plane = undefined;
      const backupDir = mkdtempSync(join(tmpdir(), 'rupaya-backup-'));
      dirs.push(backupDir);
      if (db.databaseUrl) {
        backupName = `${db.name}_backup`;
        const [name, from] = [backupName, db.name];
        await withAdminConnection((sql) => sql.unsafe(`create database ${name} template ${from}`));
      } else cpSync(dataDir, backupDir, { recursive: true });

      // After the backup: more changes, and clients that hold the newest revision.
      plane = await start();
      admin = new AdminApi(plane.url);
      for (const enabled of [false, true, false]) {
        await admin.updateFlag(FLAG, { enabled, reason: 'after the backup' }, 'prod');
        await admin.updateFlag(FLAG, { enabled, reason: 'after the backup' }, 'staging');
      }
      const cacheFile = join(backupDir, '..', `rupaya-restore-cache-${kind}-${port}.json`);
      const options = {
        url: plane.url,
        sdkKey,
        metrics: { enabled: false },
        logger: silent,
        backoff: { initialMs: 50, maxMs: 300 },
      };
      const streaming = createClient({ ...options, cacheFile, pollIntervalMs: 60_000 });
      const polling = createClient({ ...options, streaming: false, pollIntervalMs: 300 });
      clients.push(streaming, polling);
      expect(await streaming.ready({ timeoutMs: 10_000 })).toBe('READY');
      expect(await polling.ready({ timeoutMs: 10_000 })).toBe('READY');
      const held = streaming.revision!;
      expect(polling.revision).toBe(held);
      expect(streaming.isEnabled(FLAG, { userId: 'u1' })).toBe(false);
      const stagingCache = join(backupDir, '..', `rupaya-restore-staging-${kind}-${port}.json`);
      const stopped = createClient({
        ...options,
        sdkKey: stagingKey,
        cacheFile: stagingCache,
        streaming: false,
      });
      expect(await stopped.ready({ timeoutMs: 10_000 })).toBe('READY');
      const stagingHeld = stopped.revision!;
      await stopped.close(); // the cache file is written before close() returns

      // The restore: the database as it was at the backup (the flag on, an older revision).
      await plane.close();
      plane = undefined;
      if (db.databaseUrl) {
        const [name, from] = [db.name, backupName!];
        await withAdminConnection(async (sql) => {
          await sql.unsafe(`drop database ${name} with (force)`);
          await sql.unsafe(`create database ${name} template ${from}`);
        });
      } else {
        removeDir(dataDir);
        cpSync(backupDir, dataDir, { recursive: true });
      }
      plane = await start();
      admin = new AdminApi(plane.url);
      const restored = await admin.ok<{ revisions: Record<string, number> } & Record<string, unknown>>(
        'GET',
        `/api/admin/deployment/feature-flags/${FLAG}?environment=prod`,
      );
      expect(restored).toMatchObject({ flag: { enabled: true } });

      // Both running clients take the restored flags, in a revision past the one they held.
      await waitFor(
        () => streaming.isEnabled(FLAG, { userId: 'u1' }) && polling.isEnabled(FLAG, { userId: 'u1' }),
        15_000,
        'the running clients to take the restored flags',
      );
      expect(streaming.revision).toBeGreaterThan(held);
      expect(polling.revision).toBe(streaming.revision);

      // A service restarted from its cache file (holding the newest revision, the flag off) takes
      // the restored flags as soon as its first poll tells the control plane what it holds.
      const restarted = createClient({
        ...options,
        sdkKey: stagingKey,
        cacheFile: stagingCache,
        streaming: false,
        pollIntervalMs: 300,
      });
      clients.push(restarted);
      expect(restarted.revision).toBe(stagingHeld);
      expect(restarted.isEnabled(FLAG, { userId: 'u1' })).toBe(false);
      await waitFor(
        () => restarted.state === 'READY' && restarted.isEnabled(FLAG, { userId: 'u1' }),
        15_000,
        'the restarted client to take the restored flags',
      );
      expect(restarted.revision).toBeGreaterThan(stagingHeld);

      // And the next change (a kill switch) reaches every one of them.
      await admin.updateFlag(FLAG, { enabled: false, reason: 'kill switch after the restore' }, 'prod');
      await admin.updateFlag(FLAG, { enabled: false, reason: 'kill switch after the restore' }, 'staging');
      await waitFor(
        () => [streaming, polling, restarted].every((c) => !c.isEnabled(FLAG, { userId: 'u1' })),
        15_000,
        'the kill switch',
      );
    },
    PLANE_TIMEOUT_MS,
  );
});
