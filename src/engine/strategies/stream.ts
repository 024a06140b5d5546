import { performance } from 'node:perf_hooks';
import type { AttemptRecord, FinishReason, TokenUsage } from '../../domain/chat.js';
import type { AttemptRunner } from '../attempt.js';
import { aggregateFailure } from '../aggregate.js';
import { maxTokensFor, totalCost, type Plan } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EngineTelemetry } from '../ports.js';

export type EngineStreamEvent =
  | { readonly type: 'started'; readonly model: string; readonly provider: string }
  | { readonly type: 'delta'; readonly content: string }
  | {
      readonly type: 'completed';
      readonly model: string;
      readonly provider: string;
      readonly finishReason: FinishReason;
      readonly usage: TokenUsage;
      readonly costUsd: number;
      readonly latencyMs: number;
      readonly timeToFirstTokenMs: number;
      readonly attempts: readonly AttemptRecord[];
    };

/**
 * StreamChat on one model. Pull-based: the next upstream chunk is read only when the
 * consumer asks for the next event, so gRPC backpressure reaches the upstream socket.
 * A stream that ends without a finish throws (STREAM_TRUNCATED) instead of completing.
 */
export async function* streamSingle(
  deps: { runner: AttemptRunner; telemetry: EngineTelemetry },
  plan: Plan,
  ctx: CallContext,
): AsyncGenerator<EngineStreamEvent> {
  const model = plan.models[0];
  if (!model) throw new Error('streamSingle needs one model');
  const attempts: AttemptRecord[] = [];
  const provider = model.servedBy ?? model.provider;
  let firstTokenAt: number | undefined;
  let startedSent = false;
  let end: { finishReason: FinishReason; usage: TokenUsage } | undefined;
  try {
    for await (const event of deps.runner.stream(
      {
        model,
        messages: plan.messages,
        temperature: plan.temperature,
        maxTokens: maxTokensFor(plan, model),
        signal: ctx.signal,
      },
      (record) => attempts.push(record),
    )) {
      if (!startedSent) {
        startedSent = true;
        yield { type: 'started', model: model.id, provider };
      }
      if (event.type === 'end') {
        // Keep pulling: the attempt is recorded when the runner's generator returns.
        end = event;
        continue;
      }
      if (firstTokenAt === undefined) {
        firstTokenAt = performance.now();
        deps.telemetry.recordTimeToFirstToken(firstTokenAt - ctx.startedAt);
      }
      yield { type: 'delta', content: event.content };
    }
  } catch (err) {
    throw attempts.length > 0 ? aggregateFailure(attempts, ctx.signal) : err;
  }
  if (!end) throw new Error(`provider stream for ${model.id} ended without an end event`);
  const finishedAt = performance.now();
  if (!startedSent) yield { type: 'started', model: model.id, provider };
  yield {
    type: 'completed',
    model: model.id,
    provider,
    finishReason: end.finishReason,
    usage: end.usage,
    costUsd: totalCost(attempts),
    latencyMs: finishedAt - ctx.startedAt,
    timeToFirstTokenMs: (firstTokenAt ?? finishedAt) - ctx.startedAt,
    attempts,
  };
}
