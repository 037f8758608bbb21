import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  createEvaluator,
  type EvaluationContext,
  eventUnitKeys,
  experimentUnitAttributes,
  isExperimentFlag,
  type EvaluationResult,
  type Flag,
  type FlagValue,
  type Snapshot,
  snapshotEtag,
  unitKeyOf,
  type Widen,
} from '@rupaya/flags-core';
import { consoleLogger, type Logger } from './logger';
import { MetricsReporter } from './metrics/reporter';
import { CacheFileWriter, keyFingerprint, readCacheFileSync } from './snapshot/cache-file';
import { verifySnapshot } from './snapshot/verify';
import { Backoff } from './sync/backoff';
import { fetchSnapshot, HttpStatusError, type HttpSettings } from './sync/http';
import { type Transport, UndiciTransport } from './sync/transport';
import { transportWorkerScript, WorkerTransport } from './sync/worker-transport';
import { SnapshotStream } from './sync/stream';
import type {
  ChangeEvent,
  ClientEvents,
  ClientOptions,
  ReadyState,
  RequestRecord,
  ServedFlag,
  SnapshotSource,
} from './types';
import { SDK_NAME, SDK_VERSION } from './version';

type Evaluator = ReturnType<typeof createEvaluator>;

/** What the client needs to know about a flag beyond core's result: its unit-key attribute and stage. */
interface FlagMeta {
  flag: Flag;
  bucketBy: string;
  stage: number | undefined;
  experiment: boolean;
  /** Has allow/deny lists or rules: a DEFAULT result then means "targeting ran, nothing matched". */
  targeted: boolean;
}

/** What a request scope holds until its first entry (shared and frozen). */
export const NOTHING_SERVED: readonly ServedFlag[] = Object.freeze([]);

/**
 * Per-request collector of what the request was served (see `runInRequest`). `RequestFlags` is one
 * too, built without calling this constructor (see there): whatever this constructor sets, its
 * constructor sets as well.
 */
export class RequestScope {
  /**
   * What the request was served, first entry per flag. Shared and empty until the first entry (most
   * requests are served one flag or none: no array with room for sixteen is allocated for them).
   */
  get served(): readonly ServedFlag[] {
    return this.entries;
  }

  private entries: readonly ServedFlag[] = NOTHING_SERVED;

  /** Keeps the first entry of each flag. A scan, not a Set: a request is served a few flags at most. */
  add(entry: ServedFlag): void {
    const served = this.entries;
    if (served === NOTHING_SERVED) {
      this.entries = [entry];
      return;
    }
    for (let i = 0; i < served.length; i++) if (served[i]!.flag === entry.flag) return;
    (served as ServedFlag[]).push(entry);
  }
}

const DEFAULT_CACHE_TTL_SEC = 300;

function createTransport(kind: 'worker' | 'inline', timeoutMs: number, logger: Logger): Transport {
  if (kind === 'worker') {
    const script = transportWorkerScript();
    if (script) return new WorkerTransport(script, timeoutMs);
    logger.debug('transport worker script not found next to the SDK; running HTTP inline');
  }
  return new UndiciTransport(timeoutMs);
}

export class FlagsClient extends EventEmitter<ClientEvents> {
  readonly instanceId: string;
  private readonly options: ClientOptions;
  private readonly logger: Logger;
  private readonly http: HttpSettings;
  /** Where this client's HTTP runs (`'worker'` unless asked or forced otherwise). */
  readonly transport: Transport;
  private readonly pollIntervalMs: number;
  private readonly stream: SnapshotStream | undefined;
  private readonly pollBackoff: Backoff;
  private readonly cacheWriter: CacheFileWriter | undefined;
  private readonly fingerprint: string;
  private scopes: AsyncLocalStorage<RequestScope> | undefined;
  private readonly controller = new AbortController();
  private readonly metrics: MetricsReporter | undefined;

  private current: Snapshot | undefined;
  private evaluator: Evaluator | undefined;
  private meta = new Map<string, FlagMeta>();
  /** The attributes the snapshot's experiments bucket by: an event counts for the context's unit of each. */
  private eventAttributes: readonly string[] = ['userId'];
  /** One-entry memo of `meta` (a request path evaluates the same flag over and over). */
  private lastMetaKey: string | undefined;
  private lastMeta: FlagMeta | undefined;
  private source: SnapshotSource | undefined;
  private environment: string | undefined;
  private etag: string | undefined;
  private stale = false;
  private staleTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readyWaiters: (() => void)[] = [];
  private firstAttemptFailed = false;
  /** The control plane's last answer refused the SDK key (401/403). */
  private keyRefused = false;
  private closed = false;
  private lastSyncAt = 0;
  private announced: ReadyState = 'NOT_READY';

  constructor(options: ClientOptions) {
    super();
    if (!options.url) throw new TypeError('createClient: `url` is required');
    if (!options.sdkKey) throw new TypeError('createClient: `sdkKey` is required');
    this.options = options;
    this.logger = options.logger ?? consoleLogger;
    this.instanceId = options.instanceId ?? randomUUID();
    this.environment = options.environment;
    this.pollIntervalMs = options.pollIntervalMs ?? 30_000;
    const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.http = {
      baseUrl: options.url,
      sdkKey: options.sdkKey,
      requestTimeoutMs,
      userAgent: `${SDK_NAME}/${SDK_VERSION} node/${process.versions.node}`,
    };
    this.transport = createTransport(options.transport ?? 'worker', requestTimeoutMs, this.logger);
    this.pollBackoff = new Backoff(options.backoff);
    this.fingerprint = keyFingerprint(options.sdkKey);
    if (options.cacheFile) {
      this.cacheWriter = new CacheFileWriter(options.cacheFile, (err) =>
        this.logger.warn(`cannot write cache file ${options.cacheFile}: ${err.message}`),
      );
    }

    this.loadInitialSnapshot();

    if (options.metrics?.enabled !== false) {
      this.metrics = new MetricsReporter({
        transport: this.transport,
        http: this.http,
        logger: this.logger,
        instanceId: this.instanceId,
        keyFingerprint: this.fingerprint,
        options: options.metrics ?? {},
        snapshot: () => this.current,
        onError: (err) => this.reportError(err),
      });
    }

    if (options.streaming !== false) {
      this.stream = new SnapshotStream(
        {
          http: this.http,
          transport: this.transport,
          backoff: options.backoff,
          idleTimeoutMs: options.streamIdleTimeoutMs ?? 45_000,
        },
        {
          onSnapshot: (data) => this.offer(data, 'stream'),
          onAlive: () => this.markSynced(),
          onConnected: () => this.logger.debug('stream connected'),
          onDisconnected: (err, retryInMs) => {
            if (err && !this.closed) {
              this.noteFailure(err);
              this.logger.warn(`stream disconnected: ${err.message}; reconnecting in ${retryInMs} ms`);
            }
          },
          lastEventId: () =>
            this.source === 'live' && this.current ? String(this.current.revision) : undefined,
        },
      );
    }
    // First fetch at once (whatever the mode): the fastest way to READY, and it sets the ETag.
    this.schedulePoll(0);
    this.stream?.start();
  }

  // ---------------------------------------------------------------- state

  /** READY with a live snapshot, STALE when serving a cached/bootstrap or expired one, else NOT_READY. */
  get state(): ReadyState {
    if (!this.current) return 'NOT_READY';
    return this.stale ? 'STALE' : 'READY';
  }

  get revision(): number | undefined {
    return this.current?.revision;
  }

  /** The snapshot in use (treat as read-only). */
  get snapshot(): Snapshot | undefined {
    return this.current;
  }

  /** A flag of the snapshot in use (treat as read-only). */
  getFlag(key: string): Flag | undefined {
    return this.meta.get(key)?.flag;
  }

  /** Keys of every flag in the snapshot in use (empty before the first snapshot). */
  keys(): string[] {
    return this.evaluator?.keys() ?? [];
  }

  /** Has allow/deny lists or rules. */
  isTargeted(key: string): boolean {
    return this.meta.get(key)?.targeted ?? false;
  }

  /**
   * Resolves by `timeoutMs` at the latest (default 10,000): READY as soon as a live snapshot is in
   * use; STALE at once if a cached/bootstrap snapshot exists and the first attempt to reach the
   * control plane failed; at once when the control plane refuses the SDK key (401/403: NOT_READY,
   * or STALE with a cached snapshot); otherwise whatever the state is when the time is up. Never
   * rejects.
   */
  ready(options: { timeoutMs?: number } = {}): Promise<ReadyState> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (this.state === 'READY' || this.closed) return Promise.resolve(this.state);
    if ((this.current && this.firstAttemptFailed) || this.keyRefused) return Promise.resolve(this.state);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        resolve(this.state);
      };
      // Ref'd: the wait holds the process open until it settles (never longer than `timeoutMs`).
      // Unref'd, a script whose only work was `await client.ready()` exited before it settled
      // whenever nothing else was in flight (the control plane down: exit code 13, an unsettled
      // top-level await).
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.readyWaiters.push(done);
    });
  }

  // ---------------------------------------------------------------- evaluation (synchronous)

  evaluate(key: string, context: EvaluationContext = {}): EvaluationResult {
    return this.evaluateInScope(this.scopes?.getStore(), key, context);
  }

  isEnabled(key: string, context: EvaluationContext = {}): boolean {
    return this.evaluate(key, context).enabled;
  }

  variant(key: string, context: EvaluationContext = {}): string | null {
    return this.evaluate(key, context).variant;
  }

  /** The served value, or `fallback` when none is served or its type differs from the fallback's (core's rule). */
  value<T extends FlagValue>(key: string, context: EvaluationContext, fallback: T): Widen<T> {
    return this.valueInScope(this.scopes?.getStore(), key, context, fallback);
  }

  /** `evaluate`, marking what was served in `scope` (the request integrations use this). */
  evaluateInScope(
    scope: RequestScope | undefined,
    key: string,
    context: EvaluationContext = {},
  ): EvaluationResult {
    const evaluator = this.evaluator;
    if (!evaluator) {
      return { key, enabled: false, variant: null, value: undefined, reason: 'NOT_READY', revision: 0 };
    }
    const result = evaluator.evaluate(key, context);
    // core's evaluate returns a fresh object on every call: marked in place, not copied.
    if (this.stale && result.reason !== 'NOT_FOUND' && result.reason !== 'ERROR') result.reason = 'STALE';
    if (result.reason !== 'NOT_FOUND') this.observe(key, result, context, scope);
    return result;
  }

  /** `value`, marking what was served in `scope`. */
  valueInScope<T extends FlagValue>(
    scope: RequestScope | undefined,
    key: string,
    context: EvaluationContext,
    fallback: T,
  ): Widen<T> {
    const result = this.evaluateInScope(scope, key, context);
    if (result.value === undefined || !this.evaluator) return fallback as Widen<T>;
    return this.evaluator.value(key, context, fallback);
  }

  /**
   * Every evaluation through this client inside `fn` (sync or async) is marked in `scope`. Uses an
   * AsyncLocalStorage, created on first use: on Node 20 it costs a little on every promise, so the
   * integrations only use it when asked to (`captureClientCalls`).
   */
  runInRequest<R>(scope: RequestScope, fn: () => R): R {
    this.scopes ??= new AsyncLocalStorage<RequestScope>();
    return this.scopes.run(scope, fn);
  }

  private observe(
    key: string,
    result: EvaluationResult,
    context: EvaluationContext,
    scope: RequestScope | undefined,
  ): void {
    let meta: FlagMeta | undefined;
    if (key === this.lastMetaKey) meta = this.lastMeta;
    else {
      meta = this.meta.get(key);
      this.lastMetaKey = key;
      this.lastMeta = meta;
    }
    const metrics = this.metrics;
    if (metrics) metrics.recordEvaluation(key, result.variant);
    if (result.cohort === undefined && !result.inExperiment) return;
    if (scope) {
      // The unit key as core bucketed it (the flag's bucketBy attribute), for the window's distinct units.
      const unit = meta ? unitKeyOf(context, meta.bucketBy) : undefined;
      if (result.inExperiment && result.variant !== null) {
        scope.add({ flag: key, variant: result.variant, unit });
      } else {
        scope.add({ flag: key, cohort: result.cohort, stage: meta?.stage, unit });
      }
    }
    if (metrics && result.inExperiment && result.variant !== null && meta) {
      const unit = context[meta.bucketBy];
      if (unit !== undefined && unit !== null && unit !== '') {
        metrics.recordExposure(key, String(unit), result.variant, result.revision);
      }
    }
  }

  // ---------------------------------------------------------------- metrics

  /** Aggregates one served request into the current window (no I/O). */
  recordRequest(record: RequestRecord): void {
    this.metrics?.recordRequest(record);
  }

  /** `recordRequest` without building the record object (what the middleware calls per request); `atMs`: when it ended (default now). */
  recordServed(
    route: string,
    method: string,
    status: number,
    durationMs: number,
    served: readonly ServedFlag[],
    atMs?: number,
  ): void {
    this.metrics?.recordServed(route, method, status, durationMs, served, atMs);
  }

  /**
   * Experiment events: `track('checkout', { userId, orgId }, 42)`. The event counts for the
   * context's unit of every attribute the snapshot's experiments bucket by (`userId`, and `orgId`
   * when an experiment has `bucketBy: 'orgId'`), each experiment joining it on its own; with
   * `unitKey` given, for that unit alone.
   */
  track(event: string, context: EvaluationContext & { unitKey?: string }, value?: number): void {
    const units = eventUnitKeys(context, this.eventAttributes);
    if (units.length === 0) {
      this.logger.debug(
        `track("${event}") ignored: the context has no unit key (unitKey, or ${this.eventAttributes.join(', ')})`,
      );
      return;
    }
    const metrics = this.metrics;
    if (metrics) for (const unit of units) metrics.track(event, unit, value);
  }

  /** Sends whatever is buffered now. */
  async flush(): Promise<void> {
    await this.metrics?.flush({ final: false });
  }

  /** Stops syncing, flushes metrics (including the current partial window) and closes connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    for (const w of [...this.readyWaiters]) w();
    await this.metrics?.close();
    this.controller.abort();
    await Promise.allSettled([this.stream?.stop(), this.polling, this.cacheWriter?.flush()]);
    await this.transport.close().catch(() => {});
  }

  // ---------------------------------------------------------------- sync

  private loadInitialSnapshot(): void {
    const candidates: { snapshot: Snapshot; source: SnapshotSource }[] = [];
    if (this.options.cacheFile) {
      const read = readCacheFileSync(this.options.cacheFile, this.fingerprint);
      if (read.ok) {
        const verdict = verifySnapshot(read.content.snapshot, { environment: this.environment });
        if (verdict.ok) candidates.push({ snapshot: verdict.snapshot, source: 'cache' });
        else this.logger.warn(`cache file ${this.options.cacheFile} ignored: ${verdict.message}`);
      } else if (!read.missing) {
        this.logger.warn(`cache file ${this.options.cacheFile} ignored: ${read.message}`);
      }
    }
    if (this.options.bootstrap !== undefined) {
      const verdict = verifySnapshot(this.options.bootstrap, { environment: this.environment });
      if (verdict.ok) candidates.push({ snapshot: verdict.snapshot, source: 'bootstrap' });
      else this.logger.warn(`bootstrap snapshot ignored: ${verdict.message}`);
    }
    candidates.sort((a, b) => b.snapshot.revision - a.snapshot.revision);
    const best = candidates[0];
    if (best) this.install(best.snapshot, best.source);
  }

  /** A candidate from the stream or a poll: verified, then installed or rejected with a logged reason. */
  private offer(body: string, via: 'stream' | 'poll'): boolean {
    if (this.closed) return false;
    const held = {
      environment: this.environment ?? this.current?.environment,
      revision: this.current?.revision,
    };
    const verdict = verifySnapshot(body, held);
    if (!verdict.ok) {
      if (verdict.reason === 'NOT_NEWER' && verdict.revision === this.current?.revision) {
        // The same revision again (stream resume, poll after push): the server is alive and agrees.
        if (this.source !== 'live') this.install(this.current!, 'live');
        this.markSynced();
        return true;
      }
      this.logger.warn(`snapshot from ${via} rejected (${verdict.reason}): ${verdict.message}`, {
        reason: verdict.reason,
      });
      this.reportError(new Error(`snapshot rejected (${verdict.reason}): ${verdict.message}`));
      return false;
    }
    this.install(verdict.snapshot, 'live');
    return true;
  }

  private install(snapshot: Snapshot, source: SnapshotSource): void {
    const previous = this.current;
    if (previous !== snapshot) {
      this.evaluator = createEvaluator(snapshot);
      this.meta = buildMeta(snapshot);
      this.eventAttributes = experimentUnitAttributes(snapshot.flags);
      this.lastMetaKey = undefined;
      this.lastMeta = undefined;
      this.current = snapshot;
    }
    this.environment ??= snapshot.environment;
    this.source = source;
    if (source === 'live') {
      if (this.cacheWriter && previous !== snapshot) {
        void this.cacheWriter.write({
          format: 'rupaya-flags-cache',
          version: 1,
          keyFingerprint: this.fingerprint,
          savedAt: new Date().toISOString(),
          snapshot,
        });
      }
    } else {
      this.stale = true;
    }
    if (previous !== snapshot) {
      const change: ChangeEvent = {
        previousRevision: previous?.revision,
        revision: snapshot.revision,
        changedKeys: changedKeys(previous, snapshot),
        source,
      };
      this.logger.info(`snapshot revision ${snapshot.revision} in use (${source})`);
      this.emit('change', change);
    }
    if (source === 'live') this.markSynced();
    else this.syncState(`serving the ${source} snapshot until the control plane answers`);
  }

  /** The control plane answered (snapshot, 304 or heartbeat): restart the staleness clock. */
  private markSynced(): void {
    if (this.closed) return;
    this.lastSyncAt = Date.now();
    this.keyRefused = false;
    if (!this.current || this.source !== 'live') return;
    this.stale = false;
    if (this.staleTimer) clearTimeout(this.staleTimer);
    const ttlMs = (this.current.cacheTtlSec ?? DEFAULT_CACHE_TTL_SEC) * 1000;
    this.staleTimer = setTimeout(() => {
      this.stale = true;
      this.syncState(`no answer from the control plane for ${ttlMs / 1000} s (cacheTtlSec)`);
    }, ttlMs);
    this.staleTimer.unref();
    this.syncState('');
  }

  /** Emits `ready` / `stale` on each change of state (and wakes `ready()` callers). */
  private syncState(reason: string): void {
    const state = this.state;
    if (state === this.announced) return;
    this.announced = state;
    if (state === 'READY') {
      this.emit('ready', { revision: this.current!.revision });
      for (const w of [...this.readyWaiters]) w();
    } else if (state === 'STALE') {
      this.logger.warn(`flags are STALE: ${reason}`);
      this.emit('stale', { revision: this.current?.revision, reason });
    }
  }

  private schedulePoll(delayMs: number): void {
    if (this.closed) return;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => {
      this.polling = this.pollOnce();
    }, delayMs);
    this.pollTimer.unref();
  }

  private async pollOnce(): Promise<void> {
    let next = this.pollIntervalMs;
    try {
      const res = await fetchSnapshot(
        this.transport,
        this.http,
        this.etag ?? this.heldEtag(),
        this.controller.signal,
      );
      this.pollBackoff.reset();
      if (res.status === 304) {
        if (this.current && this.source !== 'live') this.install(this.current, 'live');
        this.markSynced();
      } else if (res.body !== undefined) {
        // Keep the ETag only when we hold what it names: a rejected body must be fetched in full again.
        this.etag = this.offer(res.body, 'poll') ? res.etag : undefined;
      }
    } catch (err) {
      if (this.closed) return;
      this.noteFailure(err as Error);
      next = this.pollBackoff.next();
      this.logger.warn(`snapshot poll failed: ${(err as Error).message}; next poll in ${next} ms`);
    }
    this.schedulePoll(next);
  }

  /**
   * The control plane's ETag of the snapshot held (`"<revision>-<first 16 hex of its checksum>"`,
   * its documented form) when no answer gave one yet: a client started from its cache file gets a
   * 304 instead of the whole snapshot when nothing changed, and tells the control plane which
   * revision it holds (a control plane whose database went back moves its revision past it).
   */
  private heldEtag(): string | undefined {
    const held = this.current;
    if (!held || typeof held.checksum !== 'string') return undefined;
    return snapshotEtag(held.revision, held.checksum);
  }

  private noteFailure(err: Error): void {
    if (!this.firstAttemptFailed) {
      this.firstAttemptFailed = true;
      // A cached/bootstrap snapshot is the answer while the control plane is unreachable.
      if (this.current) for (const w of [...this.readyWaiters]) w();
    }
    if (err instanceof HttpStatusError && (err.statusCode === 401 || err.statusCode === 403)) {
      this.logger.error(`the control plane refused the SDK key (${err.statusCode})`);
      this.keyRefused = true;
      // Waiting longer cannot help: ready() answers now (NOT_READY, or STALE from a cached snapshot).
      // The client keeps retrying with backoff, so a key the control plane accepts later still works.
      for (const w of [...this.readyWaiters]) w();
    }
    this.reportError(err);
  }

  private reportError(err: Error): void {
    // An EventEmitter 'error' without a listener throws; a flag SDK must never crash its host.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** @internal for tests and the metrics reporter */
  get lastSync(): number {
    return this.lastSyncAt;
  }
}

function buildMeta(snapshot: Snapshot): Map<string, FlagMeta> {
  const meta = new Map<string, FlagMeta>();
  for (const flag of snapshot.flags) {
    meta.set(flag.key, {
      flag,
      bucketBy: flag.bucketBy ?? 'userId',
      stage: flag.canary?.stage,
      experiment: isExperimentFlag(flag),
      targeted:
        (flag.allowList?.length ?? 0) > 0 ||
        (flag.denyList?.length ?? 0) > 0 ||
        (flag.rules?.length ?? 0) > 0,
    });
  }
  return meta;
}

function changedKeys(previous: Snapshot | undefined, next: Snapshot): string[] {
  const before = new Map<string, string>();
  for (const f of previous?.flags ?? []) before.set(f.key, JSON.stringify(f));
  const changed: string[] = [];
  for (const f of next.flags) {
    if (before.get(f.key) !== JSON.stringify(f)) changed.push(f.key);
    before.delete(f.key);
  }
  changed.push(...before.keys());
  return changed.sort();
}

export function createClient(options: ClientOptions): FlagsClient {
  return new FlagsClient(options);
}
