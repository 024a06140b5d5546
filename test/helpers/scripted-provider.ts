import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenUsage } from '../../src/domain/chat.js';
import { OrchestratorError, Reason } from '../../src/domain/errors.js';
import type { Provider, ProviderCompletion, ProviderRequest, ProviderStreamEvent } from '../../src/providers/types.js';

/** What a scripted model does on its next call. */
export type Script =
  | { kind: 'answer'; content: string; delayMs?: number; tokenDelayMs?: number; endDelayMs?: number; usage?: TokenUsage }
  | { kind: 'fail'; error: OrchestratorError; delayMs?: number }
  | { kind: 'hang' }
  | { kind: 'cut'; afterTokens: number };

export interface CallLog {
  model: string;
  maxTokens: number;
  aborted: boolean;
  abortReason?: unknown;
}

/** A provider for engine unit tests: each model follows its script and honours the signal. */
export class ScriptedProvider implements Provider {
  readonly calls: CallLog[] = [];
  private readonly scripts = new Map<string, Script[]>();

  constructor(readonly name = 'scripted') {}

  script(model: string, ...steps: Script[]): this {
    this.scripts.set(model, steps);
    return this;
  }

  async complete(request: ProviderRequest): Promise<ProviderCompletion> {
    const { step, log } = this.begin(request);
    try {
      if (step.kind === 'hang') {
        await sleep(3_600_000, undefined, { signal: request.signal });
        throw new Error('hung for an hour');
      }
      if (step.kind === 'fail') {
        if (step.delayMs) await sleep(step.delayMs, undefined, { signal: request.signal });
        throw step.error;
      }
      if (step.kind === 'cut') throw upstreamFailure('cut');
      if (step.delayMs) await sleep(step.delayMs, undefined, { signal: request.signal });
      return { content: step.content, finishReason: 'stop', usage: step.usage ?? usageFor(step.content) };
    } catch (err) {
      throw this.translate(err, request, log);
    }
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderStreamEvent> {
    const { step, log } = this.begin(request);
    try {
      if (step.kind === 'hang') await sleep(3_600_000, undefined, { signal: request.signal });
      if (step.kind === 'fail') throw step.error;
      const words = step.kind === 'answer' ? step.content.split(' ') : ['one', 'two', 'three', 'four', 'five'];
      if (step.kind === 'answer' && step.delayMs) await sleep(step.delayMs, undefined, { signal: request.signal });
      for (const [i, word] of words.entries()) {
        if (step.kind === 'cut' && i === step.afterTokens) throw upstreamFailure('cut');
        if (step.kind === 'answer' && step.tokenDelayMs) await sleep(step.tokenDelayMs, undefined, { signal: request.signal });
        yield { type: 'delta', content: i === 0 ? word : ` ${word}` };
      }
      if (step.kind === 'answer' && step.endDelayMs) await sleep(step.endDelayMs, undefined, { signal: request.signal });
      const content = words.join(' ');
      yield { type: 'end', finishReason: 'stop', usage: (step.kind === 'answer' ? step.usage : undefined) ?? usageFor(content) };
    } catch (err) {
      throw this.translate(err, request, log);
    }
  }

  private begin(request: ProviderRequest): { step: Script; log: CallLog } {
    const steps = this.scripts.get(request.upstreamModel) ?? [];
    const step = steps.length > 1 ? steps.shift() : steps[0];
    if (!step) throw new Error(`no script for ${request.upstreamModel}`);
    const log: CallLog = { model: request.upstreamModel, maxTokens: request.maxTokens, aborted: false };
    this.calls.push(log);
    request.signal.addEventListener('abort', () => {
      log.aborted = true;
      log.abortReason = request.signal.reason;
    });
    return { step, log };
  }

  private translate(err: unknown, request: ProviderRequest, _log: CallLog): unknown {
    if (request.signal.aborted) return request.signal.reason;
    return err;
  }
}

export function upstreamFailure(what: string, retryAfterMs?: number): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.UPSTREAM_ERROR,
    message: `scripted failure: ${what}`,
    retryable: true,
    retryAfterMs,
  });
}

function usageFor(content: string): TokenUsage {
  const completionTokens = content.split(' ').length;
  return { promptTokens: 10, completionTokens, totalTokens: 10 + completionTokens, cachedTokens: 0 };
}
