// Webhooks over real HTTP: a receiver on loopback verifies every signature; while it is down the
// deliveries are retried with backoff (shortened by configuration) and all arrive once it is back.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageKinds } from '../src/index';
import { retryDelayMs, signatureHeader, verifySignature } from '../src/services/webhooks';
import { canaryAction, createCanary } from './canary-support';
import { expectError, startTestServer, type TestServer } from './helpers';

const HOOKS = '/api/admin/deployment/webhooks';

interface Received {
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A receiver that answers `status()` (503 while "down") and records what it accepted. */
async function receiver(
  status: () => number,
): Promise<{ url: string; got: Received[]; hits: number; close(): Promise<void> }> {
  const state = { got: [] as Received[], hits: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.hits++;
      const code = status();
      if (code === 200)
        state.got.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(code).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    get got() {
      return state.got;
    },
    get hits() {
      return state.hits;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('webhook signatures and backoff (pure)', () => {
  it('signs t.body with HMAC-SHA256 and verifies within the tolerance', () => {
    const header = signatureHeader('s3cret-s3cret-s3cret', '{"a":1}', 1_700_000_000);
    // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 's3cret-s3cret-s3cret'
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', header, 1_700_000_100)).toBe(true);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":2}', header, 1_700_000_100)).toBe(false);
    expect(verifySignature('other-secret-0000000', '{"a":1}', header, 1_700_000_100)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', header, 1_700_001_000)).toBe(false);
  });

  it('8 retries from 1 s to 10 min, exponentially', () => {
    const s = { webhookRetryBaseMs: 1000, webhookRetryMaxMs: 600_000, webhookMaxRetries: 8 };
    const delays = Array.from({ length: 8 }, (_, i) => retryDelayMs(i + 1, s));
    expect(delays[0]).toBe(1000);
    expect(delays[7]).toBe(600_000);
    for (let i = 1; i < 8; i++) expect(delays[i]! / delays[i - 1]!).toBeCloseTo(600 ** (1 / 7), 2);
  });
});

describe.each(storageKinds)('webhooks on %s', (kind) => {
  let s: TestServer;
  let down = true;
  let rx: Awaited<ReturnType<typeof receiver>>;
  let slackRx: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    rx = await receiver(() => (down ? 503 : 200));
    slackRx = await receiver(() => 200);
    s = await startTestServer(kind, {
      WEBHOOK_POLL_MS: '50',
      WEBHOOK_RETRY_BASE_MS: '100',
      WEBHOOK_RETRY_MAX_MS: '400',
      METRICS_AGGREGATION_INTERVAL: '200',
    });
  });
  afterAll(async () => {
    await s?.close();
    await rx?.close();
    await slackRx?.close();
  });

  it('manages webhooks (admin only) and validates input', async () => {
    // The scheduler (and so the deliverer) runs here: PGlite's single process always leads.
    if (kind === 'pglite') expect(s.cp.app.canaryScheduler.isLeader).toBe(true);
    expectError(await s.call('POST', HOOKS, { body: { url: 'ftp://x' } }), 400, 'VALIDATION_FAILED');
    expectError(
      await s.call('POST', HOOKS, { body: { url: rx.url, format: 'xml' } }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(await s.call('DELETE', `${HOOKS}/nope`), 404, 'WEBHOOK_NOT_FOUND', 'id');
    const viewer = await s.call<{ token: string }>('POST', '/api/admin/deployment/tokens', {
      body: { role: 'viewer', subject: 'v' },
    });
    expect((await s.call('GET', HOOKS, { token: viewer.body.token })).status).toBe(403);
  });

  it('delivers every event, signed, once the receiver is back; slack gets text', async () => {
    const created = await s.call<{ id: string; secret: string }>('POST', HOOKS, {
      body: {
        url: rx.url,
        events: ['canary.*', 'flag.updated'],
        environment: 'dev',
        secret: 'test-secret-0123456789',
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.secret).toBe('test-secret-0123456789');
    const slack = await s.call<{ id: string }>('POST', HOOKS, {
      body: { url: slackRx.url, format: 'slack', events: ['canary.paused'] },
    });
    expect(slack.status).toBe(201);
    const list = await s.call<{ webhooks: { id: string; format: string }[] }>('GET', HOOKS);
    expect(list.body.webhooks.map((w) => w.format).sort()).toEqual(['json', 'slack']);
    expect(JSON.stringify(list.body)).not.toContain('test-secret');

    const key = 'canary.hooked';
    await createCanary(s, key);
    await canaryAction(s, key, 'resume');
    await canaryAction(s, key, 'pause');
    await canaryAction(s, key, 'advance');
    await s.call('PUT', `/api/admin/deployment/feature-flags/${key}?environment=dev`, {
      body: { description: 'x' },
    });
    // The receiver is down: attempts fail and are retried.
    await until(() => rx.hits >= 3);
    const log = await s.call<{ deliveries: { status: string; attempts: number; lastStatusCode: number }[] }>(
      'GET',
      `${HOOKS}/${created.body.id}/deliveries`,
    );
    expect(log.body.deliveries.some((d) => d.attempts >= 1 && d.lastStatusCode === 503)).toBe(true);
    down = false;
    await until(() => rx.got.length >= 4);
    const events = rx.got.map((g) => JSON.parse(g.body) as { event: string; payload: { key: string } });
    expect(events.map((e) => e.event)).toEqual([
      'canary.resumed',
      'canary.paused',
      'canary.advanced',
      'flag.updated',
    ]);
    for (const g of rx.got) {
      expect(
        verifySignature(
          'test-secret-0123456789',
          g.body,
          String(g.headers['x-rupaya-signature']),
          Math.floor(Date.now() / 1000),
        ),
      ).toBe(true);
      expect(g.headers['x-rupaya-event']).toBe((JSON.parse(g.body) as { event: string }).event);
    }
    await until(() => slackRx.got.length >= 1);
    const text = (JSON.parse(slackRx.got[0]!.body) as { text: string }).text;
    expect(text).toContain('*canary.paused*');
    expect(text).toContain(key);
    await until(async () => {
      const l = await s.call<{ deliveries: { status: string }[] }>(
        'GET',
        `${HOOKS}/${created.body.id}/deliveries`,
      );
      return l.body.deliveries.length === 4 && l.body.deliveries.every((d) => d.status === 'delivered');
    });
    // Delivered once each: no duplicates arrive later.
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.got).toHaveLength(4);
    expect((await s.call('DELETE', `${HOOKS}/${slack.body.id}`)).status).toBe(204);
    expect((await s.call('DELETE', `${HOOKS}/${slack.body.id}`)).status).toBe(404);
  });
});
