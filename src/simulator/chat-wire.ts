/** OpenAI chat completion wire shapes, JSON and SSE, as the openai SDK decodes them. */

export type SimFinishReason = 'stop' | 'length';

export interface SimUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

export interface CompletionIdentity {
  /** chatcmpl-sim-<n> */
  readonly id: string;
  /** Epoch seconds. */
  readonly created: number;
  /** The model as the client asked for it. */
  readonly model: string;
}

export function usageOf(promptTokens: number, completionTokens: number): SimUsage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
  };
}

export interface CompletionContent {
  readonly content: string;
  /** null only for the 'truncate' fault: what a cut-off upstream looks like. */
  readonly finishReason: SimFinishReason | null;
  readonly usage: SimUsage;
}

export function completionBody(identity: CompletionIdentity, answer: CompletionContent): unknown {
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: identity.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: answer.content, refusal: null },
        logprobs: null,
        finish_reason: answer.finishReason,
      },
    ],
    usage: answer.usage,
  };
}

export const SSE_DONE = 'data: [DONE]\n\n';

/**
 * Encodes the SSE events of one streamed completion. Token chunks, the hot path, are two
 * precomputed halves around one JSON-escaped string instead of a stringify per token.
 */
export class ChunkEncoder {
  readonly #head: string;
  readonly #tokenPrefix: string;
  readonly #tokenSuffix = '},"logprobs":null,"finish_reason":null}]}\n\n';

  constructor(identity: CompletionIdentity) {
    this.#head =
      `{"id":${JSON.stringify(identity.id)},"object":"chat.completion.chunk",` +
      `"created":${identity.created},"model":${JSON.stringify(identity.model)},` +
      `"system_fingerprint":null,`;
    this.#tokenPrefix = `data: ${this.#head}"choices":[{"index":0,"delta":{"content":`;
  }

  role(): string {
    return this.#choice('{"role":"assistant","content":""}', null);
  }

  token(text: string): string {
    return this.#tokenPrefix + JSON.stringify(text) + this.#tokenSuffix;
  }

  finish(reason: SimFinishReason): string {
    return this.#choice('{}', reason);
  }

  usage(usage: SimUsage): string {
    return `data: ${this.#head}"choices":[],"usage":${JSON.stringify(usage)}}\n\n`;
  }

  #choice(delta: string, finishReason: SimFinishReason | null): string {
    const reason = finishReason === null ? 'null' : JSON.stringify(finishReason);
    return `data: ${this.#head}"choices":[{"index":0,"delta":${delta},` + `"logprobs":null,"finish_reason":${reason}}]}\n\n`;
  }
}
