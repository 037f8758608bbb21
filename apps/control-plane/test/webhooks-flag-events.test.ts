// flag.created and flag.archived span every environment: they name them, so a webhook scoped to one
// environment receives them (with that environment), and an unscoped webhook receives each once.
// Real receivers on loopback, signatures verified; PGlite and Postgres.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageKinds } from '../src/index';
import { verifySignature } from '../src/services/webhooks';
import { FLAGS, startTestServer, type TestServer } from './helpers';

const HOOKS = '/api/admin/deployment/webhooks';
const SECRET = 'flag-events-secret-0123456789';

interface Delivered {
  id: number;
  event: string;
  environment: string | null;
  createdAt: string;
  payload: Record<string, unknown>;
}

async function receiver(): Promise<{ url: string; got: Delivered[]; close(): Promise<void> }> {
  const got: Delivered[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ok = verifySignature(
        SECRET,
        body,
        String(req.headers['x-rupaya-signature']),
        Math.floor(Date.now() / 1000),
      );
      if (ok) got.push(JSON.parse(body) as Delivered);
      res.writeHead(ok ? 200 : 401).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function until(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const summary = (d: Delivered) => ({
  event: d.event,
  environment: d.environment,
  key: d.payload.key,
});

describe.each(storageKinds)(
  'flag.created / flag.archived reach environment-scoped webhooks on %s',
  (kind) => {
    let s: TestServer;
    let staging: Awaited<ReturnType<typeof receiver>>;
    let custom: Awaited<ReturnType<typeof receiver>>;
    let all: Awaited<ReturnType<typeof receiver>>;

    beforeAll(async () => {
      [staging, custom, all] = await Promise.all([receiver(), receiver(), receiver()]);
      s = await startTestServer(kind, { WEBHOOK_POLL_MS: '50' });
    });
    afterAll(async () => {
      await s?.close();
      await Promise.all([staging?.close(), custom?.close(), all?.close()]);
    });

    it('delivers one event per create/archive to each matching webhook, naming its environment', async () => {
      // A custom environment: a create makes a configuration in it too.
      expect(
        (await s.call('POST', '/api/admin/deployment/environments', { body: { key: 'qa' } })).status,
      ).toBe(201);
      for (const [rx, environment] of [
        [staging, 'staging'],
        [custom, 'qa'],
        [all, undefined],
      ] as const) {
        const r = await s.call('POST', HOOKS, {
          body: { url: rx.url, events: ['flag.*'], secret: SECRET, ...(environment ? { environment } : {}) },
        });
        expect(r.status).toBe(201);
      }
      const emitted: Record<string, unknown>[] = [];
      const onCreated = (p: Record<string, unknown>) => emitted.push(p);
      s.cp.app.events.on('flag.created', onCreated);
      try {
        // Created through the API (viewed in dev) …
        const a = await s.call<{ revisions: Record<string, number> }>('POST', FLAGS, {
          body: { key: 'hooks.a', type: 'boolean', enabled: false },
        });
        expect(a.status).toBe(201);
        // … and through an import that names only prod (a create still spans every environment).
        const imp = await s.call('POST', `${FLAGS}:import`, {
          body: { environments: { prod: [{ key: 'hooks.b', type: 'boolean', enabled: true }] } },
        });
        expect(imp.status).toBe(200);
        // Updates are per environment: dev's does not reach the staging webhook, staging's does.
        expect(
          (await s.call('PUT', `${FLAGS}/hooks.a?environment=dev`, { body: { enabled: true } })).status,
        ).toBe(200);
        expect(
          (await s.call('PUT', `${FLAGS}/hooks.a?environment=staging`, { body: { enabled: true } })).status,
        ).toBe(200);
        expect((await s.call('DELETE', `${FLAGS}/hooks.a`)).status).toBe(200);

        const environments = ['dev', 'staging', 'prod', 'qa'];
        // The in-process event names the environments too.
        expect(emitted).toHaveLength(2);
        expect(emitted[0]).toMatchObject({ key: 'hooks.a', version: 1, revisions: a.body.revisions });
        expect([...(emitted[0]!.environments as string[])].sort()).toEqual([...environments].sort());
        expect(emitted[1]).toMatchObject({ key: 'hooks.b', version: 1 });
        expect([...(emitted[1]!.environments as string[])].sort()).toEqual([...environments].sort());

        await until(
          () => staging.got.length >= 4 && custom.got.length >= 3 && all.got.length >= 5,
          'deliveries',
        );
        // Nothing more arrives later.
        await new Promise((r) => setTimeout(r, 400));

        expect(staging.got.map(summary)).toEqual([
          { event: 'flag.created', environment: 'staging', key: 'hooks.a' },
          { event: 'flag.created', environment: 'staging', key: 'hooks.b' },
          { event: 'flag.updated', environment: 'staging', key: 'hooks.a' },
          { event: 'flag.archived', environment: 'staging', key: 'hooks.a' },
        ]);
        expect(custom.got.map(summary)).toEqual([
          { event: 'flag.created', environment: 'qa', key: 'hooks.a' },
          { event: 'flag.created', environment: 'qa', key: 'hooks.b' },
          { event: 'flag.archived', environment: 'qa', key: 'hooks.a' },
        ]);
        // Unscoped: each create/archive once (not once per environment), without a single environment.
        expect(all.got.map(summary)).toEqual([
          { event: 'flag.created', environment: null, key: 'hooks.a' },
          { event: 'flag.created', environment: null, key: 'hooks.b' },
          { event: 'flag.updated', environment: 'dev', key: 'hooks.a' },
          { event: 'flag.updated', environment: 'staging', key: 'hooks.a' },
          { event: 'flag.archived', environment: null, key: 'hooks.a' },
        ]);
        // The same event (same id) went to every receiver; its payload lists every environment with the
        // revision the create landed in there.
        const created = staging.got[0]!;
        expect(custom.got[0]!.id).toBe(created.id);
        expect(all.got[0]!.id).toBe(created.id);
        expect(created.payload).toMatchObject({
          key: 'hooks.a',
          version: 1,
          actor: 'admin-token:admin',
          revisions: a.body.revisions,
        });
        expect([...(created.payload.environments as string[])].sort()).toEqual([...environments].sort());
        expect(Object.keys(created.payload.revisions as object).sort()).toEqual([...environments].sort());
        expect([...(all.got[4]!.payload.environments as string[])].sort()).toEqual([...environments].sort());
      } finally {
        s.cp.app.events.off('flag.created', onCreated);
      }
    });
  },
);
