import type { Logger } from 'pino';
import type { FinishReason, TokenUsage, UpstreamOperation } from '../domain/chat.js';
import { toolCallChars } from '../domain/tools.js';
import type { Provider, ProviderCompletion } from '../providers/types.js';
import { providerRequest, type RequestSpec } from './provider-request.js';
import { checkUsage } from './usage-check.js';
import { extend } from '../domain/extend.js';

/** What an upstream request needs of its attempt's spec: the request, and where a refused usage report is logged. */
export interface CallSpec extends RequestSpec {
  readonly log?: Logger | undefined;
}

/** An answer as the attempt returns it, with the usage it is recorded and charged with. */
export interface Settled<R> {
  readonly value: R;
  readonly usage: TokenUsage;
  /** `usage` is our estimate (the upstream's report was refused). */
  readonly estimated: boolean;
  readonly finishReason?: FinishReason | undefined;
}

/**
 * What one unary upstream request of an attempt asks: a completion, embeddings. The runner
 * around it is the same (timeout, retry budget, record); only the request and the reading of
 * its answer differ. The spec and provider come as arguments, so an UpstreamCall is a constant,
 * not a closure built per call.
 */
export interface UpstreamCall<S extends CallSpec, R> {
  /** What the request asks for, on its record and trace; absent: a chat completion. */
  readonly operation?: UpstreamOperation;
  send(spec: S, provider: Provider, signal: AbortSignal, headers: Readonly<Record<string, string>> | undefined): Promise<R>;
  settle(spec: S, provider: Provider, value: R): Settled<R>;
}

/** A chat completion: the usage the upstream reported, when it is believable (usage-check.ts). */
export const COMPLETION: UpstreamCall<CallSpec, ProviderCompletion> = {
  send: (spec, provider, signal, headers) => provider.complete(providerRequest(spec, signal, headers)),
  settle(spec, provider, completion) {
    // Thinking is billed as completion tokens, as a stream's is counted (StreamUsage.onThought).
    let generatedChars = completion.content.length + (completion.refusal?.length ?? 0) + (completion.thoughtChars ?? 0);
    if (completion.toolCalls) for (const call of completion.toolCalls) generatedChars += toolCallChars(call);
    const checked = checkUsage(completion.usage, spec, generatedChars, {
      log: spec.log,
      model: spec.model.id,
      provider: provider.name,
    });
    return {
      value: extend(completion, { usage: checked.usage }),
      usage: checked.usage,
      estimated: checked.refused !== undefined || completion.usageEstimated === true,
      finishReason: completion.finishReason,
    };
  },
};
