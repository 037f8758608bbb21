// Webhooks: subscriptions, and the delivery of outbox events to them. Events are written to the
// outbox in the same transaction as the change they announce; the leader fans each event out to
// one webhook_deliveries row per matching webhook (in one transaction with marking the event
// processed), then delivers due rows: POST signed with HMAC-SHA256 over `timestamp.body`
// (`X-Rupaya-Signature: t=<unix>,v1=<hex>`), retried with exponential backoff from 1 s to 10 min
// (8 retries by default), every attempt kept in the row's log. A crash anywhere leaves the event
// or its delivery rows in the database, so nothing committed is lost (delivery is at least once;
// receivers de-duplicate on `X-Rupaya-Delivery`).
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Db, DbOrTx } from '../db/client';
import { writeTransaction } from '../db/retry';
import { credentialsAudit, outbox, webhookDeliveries, webhooks } from '../db/schema/index';
import type { MetricsSettings } from './metrics-settings';

export type WebhookFormat = 'json' | 'slack';

/** Outbox topics as announced (the transition service writes present-tense action names). */
const TOPIC_NAMES: Record<string, string> = {
  'canary.advance': 'canary.advanced',
  'canary.complete': 'canary.completed',
  'canary.pause': 'canary.paused',
  'canary.resume': 'canary.resumed',
  'canary.restart': 'canary.restarted',
  'canary.rollback': 'canary.rolled_back',
};

export function eventName(topic: string): string {
  return TOPIC_NAMES[topic] ?? topic;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/** Verifies a signature header (what a receiver does); `toleranceSec` bounds replay. */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  nowSec: number,
  toleranceSec = 300,
): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSec - t) > toleranceSec || !parts.v1) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const got = Buffer.from(parts.v1);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** Delay before retry `n` (1-based): base · (max/base)^((n−1)/(retries−1)), so 1 s → 10 min over 8. */
export function retryDelayMs(
  n: number,
  settings: Pick<MetricsSettings, 'webhookRetryBaseMs' | 'webhookRetryMaxMs' | 'webhookMaxRetries'>,
): number {
  const { webhookRetryBaseMs: base, webhookRetryMaxMs: max, webhookMaxRetries: retries } = settings;
  if (retries <= 1) return base;
  const ratio = (max / base) ** (1 / (retries - 1));
  return Math.round(Math.min(max, base * ratio ** (n - 1)));
}

export interface WebhookEvent {
  id: number;
  event: string;
  environment: string | null;
  createdAt: string;
  payload: unknown;
}

/** The request body for a webhook of `format`. */
export function renderBody(format: WebhookFormat, e: WebhookEvent): string {
  if (format === 'json') return JSON.stringify(e);
  const p = (e.payload ?? {}) as Record<string, unknown>;
  const parts = [`*${e.event}*`];
  if (p.key) parts.push(`flag \`${String(p.key)}\``);
  if (e.environment) parts.push(`in ${e.environment}`);
  if (p.fromPercent !== undefined && p.toPercent !== undefined)
    parts.push(`${p.fromPercent}% → ${p.toPercent}%`);
  const reasons = Array.isArray(p.reasons)
    ? (p.reasons as string[]).join('; ')
    : p.reason
      ? String(p.reason)
      : '';
  const text = parts.join(' ') + (reasons ? `\n${reasons}` : '');
  return JSON.stringify({ text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] });
}

export interface CreateWebhookInput {
  url: string;
  events?: string[] | undefined;
  environment?: string | undefined;
  format?: WebhookFormat | undefined;
  secret?: string | undefined;
  actor: string;
}

const generateWebhookSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

/** Creates a webhook, with its `webhook.created` row in the credentials audit (one transaction). */
export async function createWebhook(db: DbOrTx, input: CreateWebhookInput) {
  const id = randomUUID();
  const secret = input.secret ?? generateWebhookSecret();
  const row = await writeTransaction(db, async (tx) => {
    const [created] = await tx
      .insert(webhooks)
      .values({
        id,
        url: input.url,
        secret,
        events: input.events && input.events.length > 0 ? input.events : ['*'],
        environment: input.environment ?? null,
        format: input.format ?? 'json',
        createdBy: input.actor,
      })
      .returning();
    await tx.insert(credentialsAudit).values({
      action: 'webhook.created',
      credentialId: id,
      environment: created!.environment,
      actor: input.actor,
      createdAt: created!.createdAt,
    });
    return created!;
  });
  return { ...publicWebhook(row), secret };
}

export interface WebhookPatch {
  url?: string | undefined;
  events?: string[] | undefined;
  /** null: every environment. */
  environment?: string | null | undefined;
  format?: WebhookFormat | undefined;
}

/**
 * Applies `set` to an active webhook with its row of the credentials audit, in one transaction;
 * undefined when there is no such active webhook.
 */
async function changeWebhook(
  db: DbOrTx,
  id: string,
  set: Partial<typeof webhooks.$inferInsert>,
  action: 'webhook.updated' | 'webhook.secret_rotated',
  actor: string,
) {
  return writeTransaction(db, async (tx) => {
    const [changed] = await tx
      .update(webhooks)
      .set(set)
      .where(and(eq(webhooks.id, id), eq(webhooks.active, true)))
      .returning();
    if (!changed) return undefined;
    await tx
      .insert(credentialsAudit)
      .values({ action, credentialId: id, environment: changed.environment, actor });
    return changed;
  });
}

/**
 * Changes an active webhook's URL, events, environment or format (`webhook.updated` in the
 * credentials audit); undefined when there is no such active webhook. Events are matched to
 * webhooks when they are fanned out, so the new events and environment apply to events from then
 * on; deliveries already queued are sent to the new URL.
 */
export async function updateWebhook(db: DbOrTx, id: string, patch: WebhookPatch, actor: string) {
  const set: Partial<typeof webhooks.$inferInsert> = {};
  if (patch.url !== undefined) set.url = patch.url;
  if (patch.events !== undefined) set.events = patch.events.length > 0 ? patch.events : ['*'];
  if (patch.environment !== undefined) set.environment = patch.environment;
  if (patch.format !== undefined) set.format = patch.format;
  const changed = await changeWebhook(db, id, set, 'webhook.updated', actor);
  return changed && publicWebhook(changed);
}

/**
 * Gives an active webhook a new signing secret (`secret`, else a generated one), audited as
 * `webhook.secret_rotated`; undefined when there is no such active webhook. Every delivery attempt
 * from then on, queued ones included, is signed with it.
 */
export async function rotateWebhookSecret(db: DbOrTx, id: string, secret: string | undefined, actor: string) {
  const next = secret ?? generateWebhookSecret();
  const changed = await changeWebhook(db, id, { secret: next }, 'webhook.secret_rotated', actor);
  return changed && { ...publicWebhook(changed), secret: next };
}

export function publicWebhook(row: typeof webhooks.$inferSelect) {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    environment: row.environment,
    format: row.format as WebhookFormat,
    active: row.active,
    createdAt: row.createdAt.toISOString(),
    createdBy: row.createdBy,
  };
}

export async function listWebhooks(db: DbOrTx) {
  const rows = await db
    .select()
    .from(webhooks)
    .where(eq(webhooks.active, true))
    .orderBy(asc(webhooks.createdAt));
  return rows.map(publicWebhook);
}

/**
 * Deactivates a webhook (deleted by `actor`, audited) and cancels its pending deliveries, in one
 * transaction (its delivery log stays); false when there is no such active webhook. A fan-out that
 * read the webhook as active holds it `FOR SHARE` until it commits, so the deactivation waits for it
 * and then cancels the deliveries it wrote; a fan-out after the deactivation no longer sees the
 * webhook.
 */
export async function deleteWebhook(db: DbOrTx, id: string, actor: string): Promise<boolean> {
  return writeTransaction(db, async (tx) => {
    const [deleted] = await tx
      .update(webhooks)
      .set({ active: false, deletedAt: new Date(), deletedBy: actor })
      .where(and(eq(webhooks.id, id), eq(webhooks.active, true)))
      .returning({ environment: webhooks.environment, deletedAt: webhooks.deletedAt });
    if (!deleted) return false;
    await tx
      .update(webhookDeliveries)
      .set({ status: 'cancelled' })
      .where(and(eq(webhookDeliveries.webhookId, id), eq(webhookDeliveries.status, 'pending')));
    await tx.insert(credentialsAudit).values({
      action: 'webhook.deleted',
      credentialId: id,
      environment: deleted.environment,
      actor,
      createdAt: deleted.deletedAt!,
    });
    return true;
  });
}

export async function listDeliveries(db: DbOrTx, webhookId: string, limit = 100) {
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, webhookId))
    .orderBy(desc(webhookDeliveries.id))
    .limit(limit);
  return rows.map((r) => ({
    id: r.id,
    eventId: r.outboxId,
    event: r.topic,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? r.nextAttemptAt.toISOString() : null,
    lastStatusCode: r.lastStatusCode,
    lastError: r.lastError,
    deliveredAt: r.deliveredAt?.toISOString() ?? null,
    log: r.log,
  }));
}

/** The environments an event is about: its own, or (flag.created/flag.archived span several) the payload's list. */
function eventEnvironments(e: typeof outbox.$inferSelect): readonly (string | null)[] {
  if (e.environment !== null) return [e.environment];
  const listed = (e.payload as { environments?: unknown } | null)?.environments;
  return Array.isArray(listed) ? listed.filter((x): x is string => typeof x === 'string') : [null];
}

const matches = (hook: typeof webhooks.$inferSelect, event: string, e: typeof outbox.$inferSelect) =>
  (hook.environment === null || eventEnvironments(e).includes(hook.environment)) &&
  (hook.events.includes('*') ||
    hook.events.includes(event) ||
    hook.events.some((e) => e.endsWith('.*') && event.startsWith(e.slice(0, -1))));

/**
 * The status an attempt's outcome sets, unless the delivery was cancelled (its webhook deleted)
 * while the request was in flight: then it stays cancelled, with the attempt in its log.
 */
const keepCancelled = (status: 'delivered' | 'failed' | 'pending') =>
  sql<string>`case when ${webhookDeliveries.status} = 'cancelled' then 'cancelled' else ${status} end`;

export class WebhookDeliverer {
  private busy = false;
  private stopped = false;
  /** Each receiver's delivery loop while it runs: one at a time per webhook, receivers independent. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly settings: MetricsSettings,
    private readonly log: FastifyBaseLogger,
  ) {}

  /**
   * Fans pending outbox events out to deliveries, then starts a delivery loop for every webhook
   * with pending deliveries that has none running, and returns without waiting for them: a
   * receiver that hangs until the timeout, or has a long backlog, holds back only its own events.
   */
  async tick(nowMs = Date.now()): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      while ((await this.fanOut()) > 0) {
        // keep going until the outbox is drained
      }
      await this.startDue(nowMs);
    } finally {
      this.busy = false;
    }
  }

  /** Resolves once every delivery loop started so far has ended. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Starts no more deliveries and waits for the attempts in flight (each bounded by the timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  /** One transaction: up to 200 unprocessed events → delivery rows, events marked processed. */
  async fanOut(): Promise<number> {
    return this.db.transaction(async (tx) => {
      const events = await tx
        .select()
        .from(outbox)
        .where(isNull(outbox.processedAt))
        .orderBy(asc(outbox.id))
        .limit(200)
        .for('update', { skipLocked: true });
      if (events.length === 0) return 0;
      // FOR SHARE: a delete of one of these webhooks waits until these deliveries are committed,
      // and then cancels them (see deleteWebhook).
      const hooks = await tx.select().from(webhooks).where(eq(webhooks.active, true)).for('share');
      const rows: (typeof webhookDeliveries.$inferInsert)[] = [];
      for (const e of events) {
        const name = eventName(e.topic);
        for (const h of hooks)
          if (matches(h, name, e)) rows.push({ outboxId: e.id, webhookId: h.id, topic: name });
      }
      if (rows.length > 0) await tx.insert(webhookDeliveries).values(rows).onConflictDoNothing();
      await tx
        .update(outbox)
        .set({ processedAt: new Date() })
        .where(
          sql`${outbox.id} in (${sql.join(
            events.map((e) => sql`${e.id}`),
            sql`, `,
          )})`,
        );
      return events.length;
    });
  }

  /** Starts the delivery loop of every webhook with pending deliveries and no loop running. */
  async startDue(nowMs: number): Promise<number> {
    const hooks = await this.db
      .selectDistinct({ id: webhookDeliveries.webhookId })
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.status, 'pending'));
    let started = 0;
    for (const { id } of hooks) {
      if (this.inFlight.has(id) || this.stopped) continue;
      const loop = this.deliverHook(id, nowMs)
        .then(() => undefined)
        .catch((err) => this.log.warn({ err, webhook: id }, 'webhook delivery failed'))
        .finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, loop);
      started++;
    }
    return started;
  }

  /**
   * Sends one webhook's due deliveries, strictly in order: the oldest pending delivery first, and a
   * failure (or a retry not yet due) holds the later ones back. Each webhook's backlog is read on
   * its own, so one receiver's long backlog never crowds the others out of a batch.
   */
  async deliverHook(webhookId: string, nowMs: number): Promise<number> {
    const pending = await this.db
      .select({ d: webhookDeliveries, e: outbox })
      .from(webhookDeliveries)
      .innerJoin(outbox, eq(outbox.id, webhookDeliveries.outboxId))
      .where(and(eq(webhookDeliveries.webhookId, webhookId), eq(webhookDeliveries.status, 'pending')))
      .orderBy(asc(webhookDeliveries.id))
      .limit(200);
    let sent = 0;
    for (const row of pending) {
      if (this.stopped || row.d.nextAttemptAt.getTime() > nowMs) break;
      // Still pending now, and to which URL with which secret? While an earlier delivery of this
      // loop was in flight, the webhook may have been deleted (its deliveries cancelled), edited or
      // given a new secret.
      const hook = await this.hookIfPending(row.d.id);
      if (!hook) break;
      sent++;
      if (!(await this.attempt(row.d, hook, row.e))) break;
    }
    return sent;
  }

  /** The webhook of a delivery as it is now, or undefined when the delivery is no longer pending. */
  private async hookIfPending(deliveryId: number): Promise<typeof webhooks.$inferSelect | undefined> {
    const [row] = await this.db
      .select({ h: webhooks })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, 'pending')));
    return row?.h;
  }

  private async attempt(
    d: typeof webhookDeliveries.$inferSelect,
    h: typeof webhooks.$inferSelect,
    e: typeof outbox.$inferSelect,
  ): Promise<boolean> {
    const body = renderBody(h.format as WebhookFormat, {
      id: e.id,
      event: d.topic,
      // An event spanning several environments names, to a hook scoped to one, that environment.
      environment: e.environment ?? h.environment,
      createdAt: e.createdAt.toISOString(),
      payload: e.payload,
    });
    const started = Date.now();
    let statusCode: number | undefined;
    let error: string | undefined;
    try {
      const res = await fetch(h.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'rupaya-webhooks/1',
          'x-rupaya-event': d.topic,
          'x-rupaya-delivery': String(d.id),
          'x-rupaya-signature': signatureHeader(h.secret, body, Math.floor(Date.now() / 1000)),
        },
        body,
        signal: AbortSignal.timeout(this.settings.webhookTimeoutMs),
        redirect: 'manual',
      });
      statusCode = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err as Error).message || String(err);
    }
    const durationMs = Date.now() - started;
    const attempts = d.attempts + 1;
    const entry = {
      at: new Date(started).toISOString(),
      durationMs,
      ...(statusCode ? { statusCode } : {}),
      ...(error ? { error } : {}),
    };
    const log = [...(d.log ?? []), entry];
    if (!error) {
      await this.db
        .update(webhookDeliveries)
        .set({
          status: keepCancelled('delivered'),
          attempts,
          lastStatusCode: statusCode ?? null,
          lastError: null,
          deliveredAt: new Date(),
          log,
        })
        .where(eq(webhookDeliveries.id, d.id));
      return true;
    }
    const exhausted = attempts > this.settings.webhookMaxRetries;
    await this.db
      .update(webhookDeliveries)
      .set({
        status: keepCancelled(exhausted ? 'failed' : 'pending'),
        attempts,
        lastStatusCode: statusCode ?? null,
        lastError: error,
        nextAttemptAt: new Date(Date.now() + (exhausted ? 0 : retryDelayMs(attempts, this.settings))),
        log,
      })
      .where(eq(webhookDeliveries.id, d.id));
    if (exhausted)
      this.log.warn({ webhook: h.id, delivery: d.id, error }, 'webhook delivery failed for good');
    return false;
  }
}
