import type { Catalog, CatalogModel } from '../catalog/catalog.js';
import type { ChatInput } from '../domain/chat.js';
import { invalidArgument, modelNotFound, type FieldViolation } from '../domain/errors.js';
import { AttemptRunner } from './attempt.js';
import type { Answer, FallbackAnswer, Plan } from './answer.js';
import type { CallContext } from './context.js';
import type { EngineTelemetry, ProviderLookup } from './ports.js';
import { runFallbackChain } from './strategies/fallback.js';
import { raceModels } from './strategies/race.js';
import { runSingle } from './strategies/single.js';
import { streamWithStrategy, type EngineStreamEvent, type StreamOptions } from './strategies/stream.js';
import type { ResilienceConfig } from '../config/config.js';
import { BreakerRegistry, type BreakerState } from './resilience/breakers.js';
import { RetryBudgets } from './resilience/retry-budget.js';

export interface EngineOptions {
  readonly catalog: Catalog;
  readonly providers: ProviderLookup;
  readonly telemetry: EngineTelemetry;
  readonly defaults: {
    readonly model: string;
    readonly maxTokens: number;
    readonly fallbackMessage: string;
  };
  readonly resilience: ResilienceConfig;
}

/** A requested model name and the request field it came from, for error details. */
export interface ModelRef {
  readonly name: string;
  readonly field: string;
}

export interface StreamTarget {
  readonly mode: StreamOptions['mode'];
  readonly models: readonly ModelRef[];
  readonly hedgeDelayMs: number | undefined;
  readonly restartOnFailure: boolean;
  readonly firstTokenTimeoutMs: number | undefined;
  readonly interTokenTimeoutMs: number | undefined;
}

export interface FallbackTarget {
  readonly chain: readonly ModelRef[];
  readonly attemptTimeoutMs: number | undefined;
  readonly defaultMessage: string | undefined;
  readonly disableDefaultMessage: boolean;
}

/**
 * The orchestration facade: resolves names against the catalog, checks limits that depend on
 * the model, then hands a Plan to a strategy. Knows nothing of gRPC.
 */
export class Engine {
  private readonly deps: { runner: AttemptRunner; telemetry: EngineTelemetry };

  constructor(private readonly options: EngineOptions) {
    const { resilience } = options;
    const runner = new AttemptRunner({
      providers: options.providers,
      telemetry: options.telemetry,
      breakers: new BreakerRegistry(resilience.breaker),
      budgets: new RetryBudgets({ maxTokens: resilience.retry.budgetMaxTokens, tokenRatio: resilience.retry.budgetTokenRatio }),
      retry: resilience.retry,
    });
    this.deps = { runner, telemetry: options.telemetry };
  }

  /** The circuit breaker of the model's endpoint in this process. */
  breakerState(modelId: string): BreakerState {
    const model = this.options.catalog.find(modelId);
    return model ? this.deps.runner.breakerState(model) : 'closed';
  }

  get catalog(): Catalog {
    return this.options.catalog;
  }

  async chat(model: ModelRef, input: ChatInput, ctx: CallContext): Promise<Answer> {
    return runSingle(this.deps.runner, this.plan([model], input), ctx);
  }

  /** Validates and plans eagerly (errors before any event), then streams. */
  stream(primary: ModelRef, target: StreamTarget, input: ChatInput, ctx: CallContext): AsyncGenerator<EngineStreamEvent> {
    const refs = target.mode === 'single' ? [primary] : this.expand(primary, target.models);
    const plan = this.plan(refs, input, { capMaxTokens: target.mode === 'fallback' });
    const { resilience } = this.options;
    return streamWithStrategy(
      this.deps,
      plan,
      {
        mode: target.mode,
        hedgeDelayMs: target.hedgeDelayMs ?? 0,
        restartOnFailure: target.restartOnFailure,
        firstTokenTimeoutMs: target.firstTokenTimeoutMs ?? resilience.firstTokenTimeoutMs,
        interTokenTimeoutMs: target.interTokenTimeoutMs ?? resilience.interTokenTimeoutMs,
      },
      ctx,
    );
  }

  /** `racers` empty: the model (or the default) and its configured fallbacks race. */
  async race(
    primary: ModelRef,
    racers: readonly ModelRef[],
    options: { hedgeDelayMs: number | undefined },
    input: ChatInput,
    ctx: CallContext,
  ): Promise<Answer> {
    return raceModels(this.deps, this.plan(this.expand(primary, racers), input), { hedgeDelayMs: options.hedgeDelayMs ?? 0 }, ctx);
  }

  async fallback(primary: ModelRef, target: FallbackTarget, input: ChatInput, ctx: CallContext): Promise<FallbackAnswer> {
    const plan = this.plan(this.expand(primary, target.chain), input, { capMaxTokens: true });
    const defaultMessage = target.disableDefaultMessage
      ? undefined
      : (target.defaultMessage ?? this.options.defaults.fallbackMessage);
    return runFallbackChain(this.deps, plan, { linkTimeoutMs: target.attemptTimeoutMs, defaultMessage }, ctx);
  }

  private expand(primary: ModelRef, list: readonly ModelRef[]): ModelRef[] {
    if (list.length > 0) return [...list];
    const first = this.resolve([this.withDefault(primary)])[0];
    if (!first) return [];
    return this.options.catalog.chainFrom(first).map((m) => ({ name: m.id, field: primary.field }));
  }

  private withDefault(ref: ModelRef): ModelRef {
    return ref.name.trim() === '' ? { name: this.options.defaults.model, field: ref.field } : ref;
  }

  private resolve(refs: readonly ModelRef[]): CatalogModel[] {
    const models: CatalogModel[] = [];
    for (const ref of refs) {
      const resolved = this.withDefault(ref);
      const model = this.options.catalog.find(resolved.name);
      if (!model) throw modelNotFound(resolved.name, resolved.field);
      models.push(model);
    }
    return models;
  }

  /**
   * max_tokens: an explicit value must fit every model (INVALID_ARGUMENT otherwise), except in a
   * fallback chain where it is capped per model; unset means the default, capped per model.
   */
  private plan(refs: readonly ModelRef[], input: ChatInput, options: { capMaxTokens?: boolean } = {}): Plan {
    const models = this.resolve(refs);
    const violations: FieldViolation[] = [];
    const maxTokens = new Map<string, number>();
    for (const [index, model] of models.entries()) {
      const ref = refs[index];
      if (models.indexOf(model) !== index && ref) {
        violations.push({ field: ref.field, description: `${model.id} is listed more than once` });
      }
      const wanted = input.maxTokens ?? this.options.defaults.maxTokens;
      if (input.maxTokens !== undefined && wanted > model.maxOutputTokens && !options.capMaxTokens) {
        violations.push({
          field: 'max_tokens',
          description: `must be at most ${model.maxOutputTokens} for ${model.id} (got ${wanted})`,
        });
      }
      maxTokens.set(model.id, Math.min(wanted, model.maxOutputTokens));
    }
    if (violations.length > 0) throw invalidArgument(violations);
    const attemptTimeoutMs = this.options.resilience.attemptTimeoutMs || undefined;
    return { models, messages: input.messages, temperature: input.temperature, maxTokens, attemptTimeoutMs };
  }
}

export type { Answer, FallbackAnswer, EngineStreamEvent };
