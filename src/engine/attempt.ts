import { performance } from 'node:perf_hooks';
import { costOf, type CatalogModel } from '../catalog/catalog.js';
import type { AttemptOutcome, AttemptRecord, ChatMessage, TokenUsage } from '../domain/chat.js';
import { ZERO_USAGE } from '../domain/chat.js';
import { OrchestratorError, Reason } from '../domain/errors.js';
import type { ProviderCompletion, ProviderStreamEvent } from '../providers/types.js';
import type { EngineTelemetry, ProviderLookup } from './ports.js';
import { childSignal } from './signals.js';

/** One upstream call. Every strategy goes through AttemptRunner, so this is written once. */
export interface AttemptSpec {
  readonly model: CatalogModel;
  readonly messages: readonly ChatMessage[];
  readonly temperature: number;
  readonly maxTokens: number;
  /** The parent: the call's signal, or a strategy's controller derived from it. */
  readonly signal: AbortSignal;
  /** This attempt's own budget; the parent's deadline applies regardless. */
  readonly timeoutMs?: number;
}

export type AttemptResult =
  | { readonly ok: true; readonly completion: ProviderCompletion; readonly record: AttemptRecord }
  | { readonly ok: false; readonly error: OrchestratorError; readonly record: AttemptRecord };

export class AttemptRunner {
  constructor(
    private readonly providers: ProviderLookup,
    private readonly telemetry: EngineTelemetry,
  ) {}

  async run(spec: AttemptSpec): Promise<AttemptResult> {
    const started = performance.now();
    const provider = spec.model.servedBy === undefined ? undefined : this.providers.get(spec.model.servedBy);
    if (!provider) return this.skipped(spec.model, notServed(spec.model));
    const child = childSignal(spec.signal, timeoutOf(spec));
    try {
      const completion = await provider.complete({
        upstreamModel: spec.model.upstreamId,
        messages: spec.messages,
        temperature: spec.temperature,
        maxTokens: spec.maxTokens,
        signal: child.signal,
      });
      const record = this.finish({ spec, provider: provider.name, started, usage: completion.usage });
      return { ok: true, completion, record };
    } catch (err) {
      const error = asOrchestratorError(err, child.signal);
      const record = this.finish({ spec, provider: provider.name, started, usage: ZERO_USAGE, error });
      return { ok: false, error, record };
    } finally {
      child.dispose();
    }
  }

  /**
   * A streamed attempt. Yields the provider's events; the attempt is recorded when the stream
   * ends, fails, or the consumer stops pulling (then it counts as cancelled, with the usage of
   * what was generated so far). `onRecord` receives the record exactly once.
   */
  async *stream(spec: AttemptSpec, onRecord: (record: AttemptRecord) => void): AsyncGenerator<ProviderStreamEvent> {
    const started = performance.now();
    const provider = spec.model.servedBy === undefined ? undefined : this.providers.get(spec.model.servedBy);
    if (!provider) {
      const result = this.skipped(spec.model, notServed(spec.model));
      onRecord(result.record);
      throw result.error;
    }
    const child = childSignal(spec.signal, timeoutOf(spec));
    let generatedChars = 0;
    let usage: TokenUsage | undefined;
    let error: OrchestratorError | undefined;
    try {
      for await (const event of provider.stream({
        upstreamModel: spec.model.upstreamId,
        messages: spec.messages,
        temperature: spec.temperature,
        maxTokens: spec.maxTokens,
        signal: child.signal,
      })) {
        if (event.type === 'delta') generatedChars += event.content.length;
        else usage = event.usage;
        yield event;
      }
    } catch (err) {
      error = asOrchestratorError(err, child.signal);
      throw error;
    } finally {
      if (!usage && !error) {
        // The consumer stopped pulling: make sure the upstream request closes too.
        child.abort(new OrchestratorError({ kind: 'cancelled', reason: Reason.CANCELLED, message: 'stream abandoned' }));
        error = asOrchestratorError(child.signal.reason, child.signal);
      }
      child.dispose();
      onRecord(
        this.finish({
          spec,
          provider: provider.name,
          started,
          usage: usage ?? partialUsage(spec.messages, generatedChars),
          error,
        }),
      );
    }
  }

  private skipped(model: CatalogModel, error: OrchestratorError): { ok: false; error: OrchestratorError; record: AttemptRecord } {
    const record: AttemptRecord = {
      model: model.id,
      provider: model.servedBy ?? model.provider,
      outcome: 'skipped',
      error,
      latencyMs: 0,
      usage: ZERO_USAGE,
      costUsd: 0,
    };
    this.telemetry.recordAttempt(record);
    return { ok: false, error, record };
  }

  private finish(options: {
    spec: AttemptSpec;
    provider: string;
    started: number;
    usage: TokenUsage;
    error?: OrchestratorError;
  }): AttemptRecord {
    const { spec, provider, started, usage, error } = options;
    const record: AttemptRecord = {
      model: spec.model.id,
      provider,
      outcome: error ? outcomeOf(error) : 'success',
      ...(error ? { error } : {}),
      latencyMs: performance.now() - started,
      usage,
      costUsd: costOf(spec.model, usage),
    };
    this.telemetry.recordAttempt(record);
    return record;
  }
}

function timeoutOf(spec: AttemptSpec): { ms: number; reason: () => OrchestratorError } | undefined {
  const ms = spec.timeoutMs;
  if (ms === undefined) return undefined;
  return {
    ms,
    reason: () =>
      new OrchestratorError({
        kind: 'deadline_exceeded',
        reason: Reason.UPSTREAM_TIMEOUT,
        message: `${spec.model.id} did not answer within its ${Math.round(ms)} ms budget`,
        retryable: true,
        metadata: { model: spec.model.id, timeout_ms: String(Math.round(ms)) },
      }),
  };
}

function outcomeOf(error: OrchestratorError): AttemptOutcome {
  if (error.reason === Reason.MODEL_NOT_AVAILABLE && error.kind === 'failed_precondition') return 'skipped';
  if (error.kind === 'deadline_exceeded') return 'timeout';
  if (error.kind === 'cancelled') return 'cancelled';
  return 'failure';
}

function notServed(model: CatalogModel): OrchestratorError {
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.MODEL_NOT_AVAILABLE,
    message: `no provider is configured for ${model.id} (provider "${model.provider}"); set its API key`,
    metadata: { model: model.id, provider: model.provider },
  });
}

/** Errors from providers are already typed; anything else here is a bug or an abort. */
function asOrchestratorError(err: unknown, signal: AbortSignal): OrchestratorError {
  if (err instanceof OrchestratorError) return err;
  if (signal.aborted && signal.reason instanceof OrchestratorError) return signal.reason;
  return new OrchestratorError({
    kind: 'internal',
    reason: Reason.INTERNAL,
    message: 'internal error while calling the upstream',
    cause: err,
  });
}

/** Usage of a stream cut short: prompt estimated, completion from the characters relayed. */
function partialUsage(messages: readonly ChatMessage[], generatedChars: number): TokenUsage {
  const promptTokens = messages.reduce((n, m) => n + Math.ceil(m.content.length / 4) + 3, 0);
  const completionTokens = Math.ceil(generatedChars / 4);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, cachedTokens: 0 };
}
