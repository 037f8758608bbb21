import {
  ErrorCode,
  type EvaluationContext,
  type Hook,
  type JsonValue,
  type Logger,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
  StandardResolutionReasons,
  type TrackingEventDetails,
} from '@openfeature/server-sdk';
import type { EvaluationResult, ValueType } from '@rupaya/flags-core';
import { type ClientOptions, createClient, type FlagsClient } from '@rupaya/flags-node';
import { mapReason, toRupayaContext } from './mapping';

export interface RupayaProviderOptions {
  /** An existing client (the provider then does not close it). */
  client?: FlagsClient;
  /** Or options to create one (closed with the provider). */
  clientOptions?: ClientOptions;
  /** How long `initialize` waits for the first snapshot (default 10,000 ms). */
  readyTimeoutMs?: number;
  /**
   * Prepended to every key asked for, so an application can use short keys for one namespace:
   * with `keyPrefix: 'checkout.'`, `getBooleanValue('new-flow', …)` reads `checkout.new-flow`.
   */
  keyPrefix?: string;
}

type Requested = 'boolean' | 'string' | 'number' | 'object';

const expectedType: Record<Requested, ValueType> = {
  boolean: 'boolean',
  string: 'string',
  number: 'number',
  object: 'json',
};

function valueMatches(requested: Requested, value: unknown): boolean {
  if (requested === 'object') return typeof value === 'object' && value !== null;
  return typeof value === requested;
}

const rupayaErrorCode: Record<NonNullable<EvaluationResult['errorCode']>, ErrorCode> = {
  FLAG_NOT_FOUND: ErrorCode.FLAG_NOT_FOUND,
  TYPE_MISMATCH: ErrorCode.TYPE_MISMATCH,
  PARSE_ERROR: ErrorCode.PARSE_ERROR,
  GENERAL: ErrorCode.GENERAL,
  TARGETING_KEY_MISSING: ErrorCode.TARGETING_KEY_MISSING,
};

/**
 * OpenFeature server provider over `@rupaya/flags-node`: every resolution is a local, synchronous
 * evaluation of the snapshot the client holds (wrapped in the promise the OpenFeature API wants).
 */
export class RupayaProvider implements Provider {
  readonly metadata = { name: 'rupaya' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly hooks: Hook[] = [];
  readonly client: FlagsClient;
  private readonly owned: boolean;
  private readonly readyTimeoutMs: number;
  private readonly keyPrefix: string;
  private initialized = false;

  constructor(options: RupayaProviderOptions) {
    if (options.client) {
      this.client = options.client;
      this.owned = false;
    } else if (options.clientOptions) {
      this.client = createClient(options.clientOptions);
      this.owned = true;
    } else {
      throw new TypeError('RupayaProvider: pass `client` or `clientOptions`');
    }
    this.readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    this.keyPrefix = options.keyPrefix ?? '';
    this.client.on('change', (change) => {
      if (!this.initialized) return;
      const prefix = this.keyPrefix;
      const flagsChanged = change.changedKeys
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length));
      this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged });
    });
    this.client.on('stale', ({ reason }) => {
      if (this.initialized) this.events.emit(ProviderEvents.Stale, { message: reason });
    });
    this.client.on('ready', () => {
      if (this.initialized) this.events.emit(ProviderEvents.Ready);
    });
    this.client.on('error', (err) => {
      // Without any snapshot the provider cannot serve: that is an OpenFeature ERROR state. With one,
      // a sync failure only makes it STALE later (cacheTtlSec), announced by the 'stale' event.
      if (this.initialized && this.client.state === 'NOT_READY') {
        this.events.emit(ProviderEvents.Error, { message: err.message });
      }
    });
  }

  async initialize(): Promise<void> {
    const state = await this.client.ready({ timeoutMs: this.readyTimeoutMs });
    this.initialized = true;
    if (state === 'NOT_READY') {
      // The SDK marks the provider ERROR; the client keeps trying and emits READY when it gets a snapshot.
      throw new Error(
        `no flag snapshot: the control plane was not reachable within ${this.readyTimeoutMs} ms, or it refused the SDK key (see the client's log)`,
      );
    }
    if (state === 'STALE') {
      queueMicrotask(() => this.events.emit(ProviderEvents.Stale, { message: 'serving a cached snapshot' }));
    }
  }

  /**
   * OpenFeature's tracking API (`client.track(name, context, details)`): an experiment event for the
   * context's units, as the SDK's `client.track`: `userId`, else `targetingKey` (the unit the
   * evaluations were exposed with), and every other attribute an experiment buckets by (or a
   * `unitKey` attribute alone); `details.value`, when a finite number, is the event's value (a
   * `mean` metric such as revenue). Other details are not kept.
   */
  track(trackingEventName: string, context: EvaluationContext, details: TrackingEventDetails): void {
    const value = details?.value;
    this.client.track(
      trackingEventName,
      toRupayaContext(context),
      typeof value === 'number' && Number.isFinite(value) ? value : undefined,
    );
  }

  async onClose(): Promise<void> {
    if (this.owned) await this.client.close();
  }

  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
    _logger?: Logger,
  ): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(this.resolve('boolean', flagKey, defaultValue, context));
  }

  resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
    _logger?: Logger,
  ): Promise<ResolutionDetails<string>> {
    return Promise.resolve(this.resolve('string', flagKey, defaultValue, context));
  }

  resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext,
    _logger?: Logger,
  ): Promise<ResolutionDetails<number>> {
    return Promise.resolve(this.resolve('number', flagKey, defaultValue, context));
  }

  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
    _logger?: Logger,
  ): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.resolve('object', flagKey, defaultValue, context));
  }

  /** Synchronous resolution; never throws. */
  resolve<T>(
    requested: Requested,
    askedKey: string,
    defaultValue: T,
    context?: EvaluationContext,
  ): ResolutionDetails<T> {
    const flagKey = this.keyPrefix + askedKey;
    const failure = (errorCode: ErrorCode, errorMessage: string): ResolutionDetails<T> => ({
      value: defaultValue,
      reason: StandardResolutionReasons.ERROR,
      errorCode,
      errorMessage,
    });
    let result: EvaluationResult;
    try {
      result = this.client.evaluate(flagKey, toRupayaContext(context));
    } catch (err) {
      return failure(ErrorCode.GENERAL, `evaluation failed: ${(err as Error).message}`);
    }
    if (result.reason === 'NOT_READY') {
      return failure(ErrorCode.PROVIDER_NOT_READY, 'no flag snapshot yet');
    }
    if (result.reason === 'NOT_FOUND') {
      return failure(ErrorCode.FLAG_NOT_FOUND, `flag "${flagKey}" not found`);
    }
    if (result.reason === 'ERROR') {
      const code = result.errorCode ? rupayaErrorCode[result.errorCode] : ErrorCode.GENERAL;
      return failure(code, result.errorMessage ?? `evaluation of "${flagKey}" failed`);
    }
    if (result.errorCode === 'TARGETING_KEY_MISSING') {
      // A split needs a unit key; OpenFeature reports that as an error with the caller's default.
      return failure(
        ErrorCode.TARGETING_KEY_MISSING,
        result.errorMessage ?? 'no targetingKey in the context',
      );
    }
    const flag = this.client.getFlag(flagKey);
    const want = expectedType[requested];
    if (flag && flag.type !== want) {
      return failure(
        ErrorCode.TYPE_MISMATCH,
        `flag "${flagKey}" is of type ${flag.type}, requested ${requested}`,
      );
    }
    const flagMetadata: Record<string, string | number | boolean> = {
      revision: result.revision,
      rupayaReason: result.reason,
    };
    if (result.cohort !== undefined) flagMetadata.cohort = result.cohort;
    const reason = mapReason(result.reason, this.client.isTargeted(flagKey));
    if (result.value === undefined) {
      // Off, denied or outside a split with no offVariant: the caller's default, with the reason.
      return { value: defaultValue, reason, flagMetadata };
    }
    if (!valueMatches(requested, result.value)) {
      return failure(
        ErrorCode.TYPE_MISMATCH,
        `flag "${flagKey}" served a ${typeof result.value} value, requested ${requested}`,
      );
    }
    const details: ResolutionDetails<T> = { value: result.value as T, reason, flagMetadata };
    if (result.variant !== null) details.variant = result.variant;
    return details;
  }
}
