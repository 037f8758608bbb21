// Webhooks end to end, with the receiver down for a while: a real HTTP receiver on loopback is
// registered through POST /api/admin/deployment/webhooks (json format, with its secret). It first
// refuses connections (its port is closed), then answers 503, then 200. Meanwhile the canary
// produces events — manual advance / resume / pause / resume, then the automatic rollback of a
// failing treatment served by a real Fastify service with @rupaya/flags-node + @rupaya/flags-fastify.
// Once the receiver is back every event arrives exactly once, in order, and every
// X-Rupaya-Signature verifies with node:crypto. Poll and retry delays are shortened by configuration
// (WEBHOOK_POLL_MS, WEBHOOK_RETRY_BASE_MS, WEBHOOK_RETRY_MAX_MS, WEBHOOK_MAX_RETRIES); no fake timers.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../sdk/plane';
import { CanaryRig, ENV, stagesHeldAt10 } from './harness';

const HOOKS = '/api/admin/deployment/webhooks';
const SECRET = 'e2e-webhook-secret-0123456789';

interface Hit {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
  at: number;
}

interface EventBody {
  id: number;
  event: string;
  environment: string | null;
  createdAt: string;
  payload: Record<string, unknown>;
}

/**
 * A receiver on a fixed loopback port: closed (connections refused) until `open()`, then answering
 * `status` (503 while unavailable) and recording every request it got.
 */
class Receiver {
  status = 503;
  readonly hits: Hit[] = [];
  private server: Server | undefined;

  private constructor(readonly port: number) {}

  /** Picks a free port and leaves it closed. */
  static async closed(): Promise<Receiver> {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    return new Receiver(port);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/rupaya-events`;
  }

  get accepted(): Hit[] {
    return this.hits.filter((h) => h.status === 200);
  }

  async open(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = this.status;
        this.hits.push({
          status,
          body: Buffer.concat(chunks).toString('utf8'),
          headers: req.headers,
          at: Date.now(),
        });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'unavailable');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** What a receiver does: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, within 5 minutes. */
function verify(secret: string, rawBody: string, header: string | undefined): boolean {
  if (!header) return false;
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  return timingSafeEqual(Buffer.from(m[2]!, 'hex'), expected);
}

let rig: CanaryRig;
let rx: Receiver;

beforeAll(async () => {
  rx = await Receiver.closed();
  rig = await CanaryRig.start({
    WEBHOOK_POLL_MS: '100',
    // Retries every 200 ms growing to 1.5 s, up to 100 of them (about a minute): the outage
    // below never exhausts them, and the first retry after the receiver is back comes quickly.
    WEBHOOK_RETRY_BASE_MS: '200',
    WEBHOOK_RETRY_MAX_MS: '1500',
    WEBHOOK_MAX_RETRIES: '100',
  });
});

afterAll(async () => {
  await rig?.close();
  await rx?.close();
});

interface Delivery {
  id: number;
  eventId: number;
  event: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  log: { statusCode?: number; error?: string }[];
}

describe('webhooks while the receiver is down for a while', () => {
  it('delivers every canary event exactly once, in order, signed, once the receiver is back', async () => {
    const created = await rig.admin.call<{ id: string; secret: string; format: string }>('POST', HOOKS, {
      url: rx.url,
      format: 'json',
      secret: SECRET,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ format: 'json', secret: SECRET });
    const hookId = created.body.id;
    const deliveries = async () =>
      (await rig.admin.ok<{ deliveries: Delivery[] }>('GET', `${HOOKS}/${hookId}/deliveries`)).deliveries;

    const key = 'canary.e2e-webhooks';
    await rig.createCanary(key, {}, stagesHeldAt10);
    await rig.canaryAction(key, 'advance', 'operator: straight to 10%');
    await rig.canaryAction(key, 'resume');
    await rig.canaryAction(key, 'pause', 'operator: look first');
    await rig.canaryAction(key, 'resume');
    // The treatment fails (20% errors) at 10%: the scheduler rolls it back by itself.
    rig.failEvery[key] = 5;
    const gen = rig.load(key);
    try {
      await rig.waitForStatus(key, (s) => s === 'rolled_back', 'automatic rollback', 60_000);
    } finally {
      await gen.stop();
      rig.failEvery[key] = 0;
    }

    // Connections were refused all along: the oldest event is retried, the later ones wait behind it.
    await waitFor(
      async () => (await deliveries()).some((d) => d.attempts >= 2 && d.lastError !== null),
      30_000,
      'refused attempts in the delivery log',
    );
    expect(rx.hits).toEqual([]);
    // The receiver comes up but answers 503 for a while.
    await rx.open();
    await waitFor(() => rx.hits.filter((h) => h.status === 503).length >= 2, 30_000, 'two 503 answers');
    expect(rx.accepted).toEqual([]);
    // Back for good.
    rx.status = 200;
    const backAt = Date.now();
    await waitFor(
      async () => {
        const ds = await deliveries();
        return ds.length >= 7 && ds.every((d) => d.status === 'delivered');
      },
      30_000,
      'every delivery delivered',
    );
    const deliveredIn = Date.now() - backAt;
    const ds = await deliveries();

    // Exactly once: one accepted request per event (a receiver de-duplicating on the event id or on
    // X-Rupaya-Delivery would drop nothing), and one per delivery row of the product's own log.
    const accepted = rx.accepted.map((h) => ({ h, e: JSON.parse(h.body) as EventBody }));
    const ids = accepted.map((a) => a.e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(accepted.map((a) => a.h.headers['x-rupaya-delivery'])).size).toBe(accepted.length);
    expect([...ids].sort((x, y) => x - y)).toEqual(ds.map((d) => d.eventId).sort((x, y) => x - y));
    // In order: accepted in the order the events were written.
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    // The flag's story, in order.
    const mine = accepted.filter((a) => a.e.payload.key === key);
    expect(mine.map((a) => a.e.event)).toEqual([
      'flag.created',
      'canary.advanced',
      'canary.resumed',
      'canary.paused',
      'canary.resumed',
      'canary.rolled_back',
      'rollback.triggered',
    ]);
    expect(mine[1]!.e.payload).toMatchObject({ automatic: false, fromPercent: 1, toPercent: 10 });
    expect(mine[5]!.e).toMatchObject({
      environment: ENV,
      payload: { automatic: true, actor: 'scheduler', fromPercent: 10, toPercent: 0, status: 'rolled_back' },
    });
    expect(mine[6]!.e.payload).toMatchObject({ applied: true, percent: 10 });
    expect((mine[6]!.e.payload.reasons as string[])[0]).toMatch(/treatment error rate/);

    // Every request — refused ones aside, 503s included — is signed over `timestamp.body`.
    for (const h of rx.hits) {
      expect(h.headers['content-type']).toBe('application/json');
      expect(verify(SECRET, h.body, h.headers['x-rupaya-signature'] as string)).toBe(true);
      expect(h.headers['x-rupaya-event']).toBe((JSON.parse(h.body) as EventBody).event);
    }
    // The check is not vacuous: another body or another secret does not verify.
    const first = accepted[0]!.h;
    expect(
      verify(SECRET, first.body.replace('"id":', '"id": '), first.headers['x-rupaya-signature'] as string),
    ).toBe(false);
    expect(
      verify('another-secret-0123456789', first.body, first.headers['x-rupaya-signature'] as string),
    ).toBe(false);

    // The delivery log keeps the outage: the oldest event's attempts were refused, then got 503, then 200.
    const head = ds.find((d) => d.eventId === ids[0])!;
    expect(head.log.some((l) => l.error !== undefined && l.statusCode === undefined)).toBe(true);
    expect(head.log.some((l) => l.statusCode === 503)).toBe(true);
    expect(head.log[head.log.length - 1]).toMatchObject({ statusCode: 200 });
    expect(head.attempts).toBe(head.log.length);
    // Later events waited behind it and went through at their first attempt.
    expect(ds.filter((d) => d.eventId !== ids[0]).every((d) => d.attempts === 1)).toBe(true);
    console.log(
      `[canary e2e] webhooks: ${accepted.length} events delivered ${deliveredIn} ms after the receiver came back; ` +
        `the oldest after ${head.attempts} attempts (${head.log.filter((l) => l.statusCode === undefined).length} refused, ` +
        `${head.log.filter((l) => l.statusCode === 503).length} × 503)`,
    );

    // Afterwards, a new event goes straight through, once.
    await rig.canaryAction(key, 'restart');
    await waitFor(() => rx.accepted.length === accepted.length + 1, 15_000, 'the restart event');
    const restarted = JSON.parse(rx.accepted[rx.accepted.length - 1]!.body) as EventBody;
    expect(restarted).toMatchObject({ event: 'canary.restarted', payload: { key } });
    expect(restarted.id).toBeGreaterThan(ids[ids.length - 1]!);
  });
});
