/** OpenAI chat completion wire shapes, JSON and SSE, as the openai SDK decodes them. */

export type SimFinishReason = 'stop' | 'length' | 'tool_calls';

export interface SimUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
  /** Of completion_tokens, the reasoning model's thinking (0 for a model that does not reason, as OpenAI sends it). */
  readonly completion_tokens_details: { readonly reasoning_tokens: number };
}

export interface CompletionIdentity {
  /** chatcmpl-sim-<n> */
  readonly id: string;
  /** Epoch seconds. */
  readonly created: number;
  /** The model as the client asked for it. */
  readonly model: string;
}

/** `answerTokens` sent and `reasoningTokens` thought: both are completion tokens. */
export function usageOf(promptTokens: number, answerTokens: number, reasoningTokens: number): SimUsage {
  const completionTokens = answerTokens + reasoningTokens;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: reasoningTokens },
  };
}

export interface CompletionContent {
  readonly content: string;
  /** null only for the 'truncate' fault: what a cut-off upstream looks like. */
  readonly finishReason: SimFinishReason | null;
  readonly usage: SimUsage;
  /** Set for an answer that calls tools: content is then null, as OpenAI sends it. */
  readonly toolCalls?: readonly { readonly id: string; readonly name: string; readonly arguments: string }[] | undefined;
  /** Set when `content` is a refusal: it goes as `refusal`, content null, as OpenAI sends one. */
  readonly refusal?: true | undefined;
}

export function completionBody(identity: CompletionIdentity, answer: CompletionContent): unknown {
  const calls = answer.toolCalls;
  const message = calls
    ? {
        role: 'assistant',
        content: null,
        tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
        refusal: null,
      }
    : answer.refusal
      ? { role: 'assistant', content: null, refusal: answer.content }
      : { role: 'assistant', content: answer.content, refusal: null };
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: identity.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message,
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

  /** The first chunk of a refusal: no content, an empty refusal that the pieces add to, as OpenAI opens one. */
  refusalRole(): string {
    return this.#choice('{"role":"assistant","content":null,"refusal":""}', null);
  }

  refusal(text: string): string {
    return this.#choice(JSON.stringify({ refusal: text }), null);
  }

  token(text: string): string {
    return this.#tokenPrefix + JSON.stringify(text) + this.#tokenSuffix;
  }

  /** A piece of tool call `index`: the first carries its id and name, the rest only argument text. */
  toolCall(index: number, call: { readonly id: string; readonly name: string } | undefined, fragment: string): string {
    const head = call
      ? { id: call.id, type: 'function', function: { name: call.name, arguments: fragment } }
      : { function: { arguments: fragment } };
    return this.#choice(JSON.stringify({ tool_calls: [{ index, ...head }] }), null);
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
