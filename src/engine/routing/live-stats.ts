import type { CatalogModel } from '../../catalog/catalog.js';
import type { AttemptRecord } from '../../domain/chat.js';
import { countsAgainstBreaker } from '../resilience/failures.js';

const ALPHA = 0.3;

interface ModelLive {
  /** Observed latency over what the catalog predicts for the same tokens; 1 before traffic. */
  slowdown: number;
  /** EWMA of measured time to first token in ms; undefined until a stream of this model measured one. */
  ttftMs: number | undefined;
  /** EWMA of failures (1) and successes (0); cancels, skips and failures that are not the model's do not count. */
  errorRate: number;
}

/**
 * What routing knows about each model from live traffic: exponentially weighted, so the choice
 * follows a model that gets slower or starts failing, and forgives it as it recovers. Two
 * latencies: the whole answer (every attempt) and time to first token (streams).
 */
export class LiveModelStats {
  private readonly models = new Map<string, ModelLive>();

  constructor(private readonly catalogModel: (id: string) => CatalogModel | undefined) {}

  recordAttempt(record: AttemptRecord): void {
    if (record.outcome === 'cancelled' || record.outcome === 'skipped') return;
    const failed = record.outcome !== 'success';
    // What the breaker counts, and only that: the caller's own deadline, or a request the upstream
    // refused for its content, says nothing about the model and must not steer others away from it.
    if (failed && !countsAgainstBreaker(record.error)) return;
    // A call that outlived its model's deletion must not bring the forgotten entry back.
    const model = this.catalogModel(record.model);
    if (!model) return;
    const live = this.entry(record.model);
    live.errorRate = ewma(live.errorRate, failed ? 1 : 0);
    if (failed) return;
    const predicted = predictLatencyMs(model, record.usage.completionTokens);
    if (predicted > 0) live.slowdown = ewma(live.slowdown, record.latencyMs / predicted);
  }

  /** A stream's measured time to first token; the EWMA starts from the current estimate. */
  recordTimeToFirstToken(modelId: string, ms: number): void {
    const model = this.catalogModel(modelId);
    if (!model || !Number.isFinite(ms) || ms < 0) return;
    const live = this.entry(modelId);
    live.ttftMs = ewma(this.expectedTtftMs(model), ms);
  }

  /** Expected latency of an answer of `outputTokens` tokens on this model, in milliseconds. */
  expectedLatencyMs(model: CatalogModel, outputTokens: number): number {
    return predictLatencyMs(model, outputTokens) * (this.models.get(model.id)?.slowdown ?? 1);
  }

  /**
   * Expected time to first token: the live EWMA once a stream measured it; before that the
   * catalog's, scaled by the slowdown seen on whole answers (a model that got slow is slow to start).
   */
  expectedTtftMs(model: CatalogModel): number {
    const live = this.models.get(model.id);
    return live?.ttftMs ?? model.typicalTtftMs * (live?.slowdown ?? 1);
  }

  /** A model gone from the catalog: a model created later under its name starts afresh. */
  forget(modelId: string): void {
    this.models.delete(modelId);
  }

  errorRate(modelId: string): number {
    return this.models.get(modelId)?.errorRate ?? 0;
  }

  private entry(id: string): ModelLive {
    let live = this.models.get(id);
    if (!live) {
      live = { slowdown: 1, ttftMs: undefined, errorRate: 0 };
      this.models.set(id, live);
    }
    return live;
  }
}

function ewma(previous: number, sample: number): number {
  return ALPHA * sample + (1 - ALPHA) * previous;
}

function predictLatencyMs(model: CatalogModel, outputTokens: number): number {
  return model.typicalTtftMs + (Math.max(1, outputTokens) * 1000) / model.tokensPerSecond;
}
