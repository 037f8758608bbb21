// Webhook receivers are independent: a receiver that takes its time (up to the timeout) holds back
// only its own events, and a receiver's long backlog never crowds the others out of delivery.
// Real HTTP receivers on loopback, the real deliverer on its timer (shortened by configuration).
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, ne } from 'drizzle-orm';
import { outbox, webhookDeliveries } from '../src/db/schema/index';
import { storageKinds } from '../src/index';
import { createWebhook, deleteWebhook, verifySignature } from '../src/services/webhooks';
import { startTestServer, type TestServer } from './helpers';

const HOOKS = '/api/admin/deployment/webhooks';
const FLAGS = '/api/admin/deployment/feature-flags';

/**
 * A receiver that records every request's event; while `holding`, it answers nothing (the
 * request stays open) until `release()`; `status` is what it answers otherwise.
 */
async function receiver(opts: { holding?: boolean; status?: number } = {}) {
  const state = {
    holding: opts.holding ?? false,
    events: [] as string[],
    /** Each request's body and signature header, in order. */
    signed: [] as { body: string; signature: string }[],
    open: [] as ServerResponse[],
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.events.push(String(req.headers['x-rupaya-event']));
      state.signed.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers['x-rupaya-signature']),
      });
      if (state.holding) state.open.push(res);
      else res.writeHead(opts.status ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    state,
    release() {
      state.holding = false;
      for (const res of state.open.splice(0)) res.writeHead(200).end();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const res of state.open.splice(0)) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(storageKinds)('webhook receivers are independent on %s', (kind) => {
  let s: TestServer;
  const receivers: Awaited<ReturnType<typeof receiver>>[] = [];
  const make = async (opts?: Parameters<typeof receiver>[0]) => {
    const rx = await receiver(opts);
    receivers.push(rx);
    return rx;
  };
  const hook = async (url: string) => {
    const r = await s.call<{ id: string }>('POST', HOOKS, {
      body: { url, events: ['flag.updated'], environment: 'dev' },
    });
    expect(r.status).toBe(201);
    return r.body.id;
  };
  const deliveries = async (id: string) =>
    (await s.call<{ deliveries: { status: string; attempts: number }[] }>('GET', `${HOOKS}/${id}/deliveries`))
      .body.deliveries;
  const update = async (key: string, description: string) =>
    expect((await s.call('PUT', `${FLAGS}/${key}?environment=dev`, { body: { description } })).status).toBe(
      200,
    );

  beforeAll(async () => {
    s = await startTestServer(kind, {
      WEBHOOK_POLL_MS: '50',
      // Long enough that the held request is certainly still in flight while the test looks.
      WEBHOOK_TIMEOUT_MS: '60000',
      WEBHOOK_RETRY_BASE_MS: '100',
      WEBHOOK_RETRY_MAX_MS: '400',
    });
    expect(
      (await s.call('POST', FLAGS, { body: { key: 'hooks.independent', type: 'boolean', enabled: false } }))
        .status,
    ).toBe(201);
  });
  afterAll(async () => {
    for (const rx of receivers) rx.release();
    await s?.close();
    await Promise.all(receivers.map((rx) => rx.close()));
  });

  it('a receiver that does not answer holds back only its own events, in order', async () => {
    const slow = await make({ holding: true });
    const fast = await make();
    const slowHook = await hook(slow.url);
    await hook(fast.url);
    await update('hooks.independent', 'one');
    await update('hooks.independent', 'two');
    // The other receiver gets both events while the first request to the slow one is still open.
    await until(() => fast.state.events.length >= 2, 'the fast receiver');
    expect(fast.state.events).toEqual(['flag.updated', 'flag.updated']);
    expect(slow.state.open).toHaveLength(1);
    expect(slow.state.events).toHaveLength(1); // the second waits behind the first: order per receiver
    expect((await deliveries(slowHook)).map((d) => d.status)).toEqual(['pending', 'pending']);
    // Once it answers, its events arrive, in order, once each.
    slow.release();
    await until(
      async () => (await deliveries(slowHook)).every((d) => d.status === 'delivered'),
      'the slow receiver',
    );
    expect(slow.state.events).toEqual(['flag.updated', 'flag.updated']);
  });

  it('deleting a webhook while its request is in flight sends nothing more to it', async () => {
    const slow = await make({ holding: true });
    const id = await hook(slow.url);
    await update('hooks.independent', 'four');
    await update('hooks.independent', 'five');
    await until(() => slow.state.open.length === 1, 'the first request');
    expect((await s.call('DELETE', `${HOOKS}/${id}`)).status).toBe(204);
    slow.release();
    // The request in flight is logged on its delivery, which stays cancelled; the next is not sent.
    await until(async () => (await deliveries(id)).some((d) => d.attempts === 1), 'the attempt logged');
    await new Promise((r) => setTimeout(r, 300));
    expect(slow.state.events).toHaveLength(1);
    // The second event has a cancelled delivery, or none when it was fanned out after the delete
    // (a deleted webhook gets no new deliveries): either way it was never attempted.
    const log = await deliveries(id);
    expect(log.every((d) => d.status === 'cancelled')).toBe(true);
    expect(log.map((d) => d.attempts).sort()).toEqual(log.length === 2 ? [0, 1] : [1]);
  });

  it('a delivery queued behind one in flight goes to the URL and secret the webhook has when it is sent', async () => {
    const slow = await make({ holding: true });
    const moved = await make();
    const id = await hook(slow.url);
    await update('hooks.independent', 'six');
    await update('hooks.independent', 'seven');
    await until(() => slow.state.open.length === 1, 'the first request');
    // While the first request is in flight: a new URL, then a new secret.
    const patched = await s.call<{ url: string }>('PATCH', `${HOOKS}/${id}`, { body: { url: moved.url } });
    expect(patched.status).toBe(200);
    expect(patched.body.url).toBe(moved.url);
    const rotated = await s.call<{ secret: string }>('POST', `${HOOKS}/${id}/secret`, {
      body: { secret: 'whsec_rotated-for-the-test-0123456789' },
    });
    expect(rotated.status).toBe(200);
    slow.release();
    await until(() => moved.state.events.length === 1, 'the second event at the new URL');
    await until(async () => (await deliveries(id)).every((d) => d.status === 'delivered'), 'both delivered');
    // The first went out before the change, to the old URL with the old secret; the second to the
    // new URL, signed with the new secret.
    expect(slow.state.events).toHaveLength(1);
    const [second] = moved.state.signed;
    const now = Math.floor(Date.now() / 1000);
    expect(verifySignature(rotated.body.secret, second!.body, second!.signature, now)).toBe(true);
    expect(JSON.parse(second!.body).payload).toMatchObject({ key: 'hooks.independent' });
  });

  it('a delete racing the fan-out leaves no pending delivery to the deleted webhook', async () => {
    // The fan-out reads the active webhooks and then writes their deliveries; a delete committed in
    // between must not leave a delivery behind it that a later tick would send.
    const down = await make({ status: 503 });
    const db = s.cp.app.db;
    const deliverer = s.cp.app.webhookDeliverer;
    for (let round = 0; round < 40; round++) {
      const { id } = await createWebhook(db, { url: down.url, environment: 'dev', actor: 'test' });
      await db
        .insert(outbox)
        .values({ topic: 'flag.updated', environment: 'dev', payload: { key: 'hooks.race', round } });
      await Promise.all([deliverer.fanOut(), deleteWebhook(db, id, 'test')]);
      const left = await db
        .select({ status: webhookDeliveries.status })
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.webhookId, id), ne(webhookDeliveries.status, 'cancelled')));
      expect(left, `round ${round}`).toEqual([]);
    }
  });

  it("a receiver's long backlog does not crowd the others out", async () => {
    // A receiver that is down, with 600 deliveries waiting for their next retry (more than any one
    // batch reads), as after a long outage.
    const down = await make({ status: 503 });
    const downHook = await hook(down.url);
    const db = s.cp.app.db;
    const events = await db
      .insert(outbox)
      .values(
        Array.from({ length: 600 }, (_, i) => ({
          topic: 'flag.updated',
          environment: 'dev',
          payload: { key: 'hooks.backlog', n: i },
          processedAt: new Date(),
        })),
      )
      .returning({ id: outbox.id });
    await db.insert(webhookDeliveries).values(
      events.map(({ id }) => ({
        outboxId: id,
        webhookId: downHook,
        topic: 'flag.updated',
        attempts: 1,
        nextAttemptAt: new Date(Date.now() + 3_600_000),
      })),
    );
    const fresh = await make();
    await hook(fresh.url);
    await update('hooks.independent', 'three');
    await until(() => fresh.state.events.length >= 1, 'the receiver behind the backlog');
    expect(fresh.state.events).toEqual(['flag.updated']);
    // The backlog is still waiting for its retry time (and got no attempt early).
    expect(down.state.events).toHaveLength(0);
  });
});
