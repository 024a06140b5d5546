import OpenAI from 'openai';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import type { FinishReason, Sampling, TokenUsage } from '../../domain/chat.js';
import { type ToolCall, ToolCallAssembler, toolCallChars } from '../../domain/tools.js';
import { applyTooling, ToolCallIndexes, toOpenAIMessages, toolCallsOf, toolPieces } from './tooling.js';
import { OrchestratorError } from '../../domain/errors.js';
import { isKeepAlive, SseDecoder } from '../http/fast-sse.js';
import { readOnAfterEnd } from '../http/after-end.js';
import { ChunkTemplate } from './chunk-template.js';
import { LeanOpenAI } from './lean-openai.js';
import { takesSampling } from '../../domain/reasoning-models.js';
import { DirectPost, type Endpoint } from './direct-post.js';
import { failedFinish, finishReasonOf, isText, reasoningOf, withCalls } from './answer-fields.js';
import { StreamOptionsSupport } from './stream-options.js';
import { createUndiciFetch, type UndiciFetch } from '../http/undici-fetch.js';
import { upstreamHttpOptions, type UpstreamHttpOptions } from '../http/upstream-http.js';
import type { EmbeddingRequest, EmbeddingResult, Provider, ProviderCompletion, ProviderRequest, ProviderStreamEvent } from '../types.js';
import { embedThroughOpenAI } from './embeddings.js';
import { accountRefused } from './errors.js';
import { usageOf } from './usage.js';
import {
  abortError,
  errorEvent,
  errorForUpstreamStatus,
  errorInAnswer,
  malformed,
  parseRetryAfter,
  SDK_GUARD_TIMEOUT_MS,
  transportError,
  truncated,
  unrecognised,
  upstreamTimeout,
} from '../upstream-errors.js';
import { REQUEST_ID_HEADER, upstreamRequestIdOf, withUpstreamRequestId } from '../upstream-request-id.js';

export interface OpenAIProviderOptions extends UpstreamHttpOptions {
  /** Name shown in answers and stats. */
  readonly name: string;
  readonly baseURL: string;
  readonly apiKey: string;
  readonly organization?: string;
  readonly defaultHeaders?: Readonly<Record<string, string>>;
  /**
   * OpenAI's own API wants `max_completion_tokens` (reasoning models reject `max_tokens`);
   * most OpenAI-compatible servers (Ollama, vLLM, LM Studio) know `max_tokens`.
   */
  readonly maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /** Per upstream call, on top of the call's deadline (the provider's `timeout_ms`). */
  readonly timeoutMs?: number;
}

/**
 * Any OpenAI-compatible endpoint through the official SDK. One SDK client per provider,
 * created once; retries and timeouts are the engine's, so the SDK's are switched off. Chat
 * requests are sent with the SDK's URL and headers but without its per-request machinery
 * (direct-post.ts) whenever the client allows it (a plain API key, no query in the base URL). Requests
 * go through undici.request on a keep-alive pool (http/undici-fetch.ts, about a fifth of
 * the CPU of fetch per call), which follows no redirect, checks the SSRF rules on every new
 * connection and bounds what it reads. A stream is read from the raw response by one generator
 * over the SSE decoder, without the SDK's stream parser.
 */
export class OpenAIProvider implements Provider {
  readonly name: string;
  private readonly client: LeanOpenAI;
  private readonly chat: DirectPost;
  private readonly maxTokensField: 'max_tokens' | 'max_completion_tokens';
  private readonly http: UndiciFetch;
  private readonly timeoutMs: number | undefined;
  private readonly maxEventBytes: number;
  private readonly maxBodyBytes: number;
  private readonly streamOptions = new StreamOptionsSupport();

  constructor(options: OpenAIProviderOptions) {
    this.name = options.name;
    this.timeoutMs = options.timeoutMs;
    this.maxTokensField =
      options.maxTokensField ?? (new URL(options.baseURL).hostname === 'api.openai.com' ? 'max_completion_tokens' : 'max_tokens');
    const http = upstreamHttpOptions(options);
    this.maxEventBytes = http.maxEventBytes;
    this.maxBodyBytes = http.maxBodyBytes;
    this.http = createUndiciFetch(http.fetch);
    this.client = new LeanOpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      organization: options.organization ?? null,
      maxRetries: 0,
      // Failures are ours to log, once, with the request id.
      logLevel: 'off',
      // Our AbortSignal carries the real deadline; this only guards against a lost signal.
      timeout: options.timeoutMs ?? SDK_GUARD_TIMEOUT_MS,
      defaultHeaders: options.defaultHeaders ? { ...options.defaultHeaders } : undefined,
      fetch: this.http,
    });
    this.chat = new DirectPost(this.client, this.http, this.name, '/chat/completions', options.timeoutMs, http.maxBodyBytes);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    return embedThroughOpenAI(this.client, this.name, request, {
      maxBodyBytes: this.maxBodyBytes,
      translate: (err) => this.translate(err, request.signal, 'response'),
    });
  }

  async complete(request: ProviderRequest): Promise<ProviderCompletion> {
    let answer: { value: unknown; headers: StreamAnswer['headers'] };
    try {
      const shape = await this.chat.shape();
      if (shape) answer = await this.chat.json(shape, this.params(request, false), request.signal, request.headers);
      else {
        const options = { signal: request.signal, headers: request.headers };
        const { data, response } = await this.client.chat.completions.create(this.params(request, false), options).withResponse();
        answer = { value: data, headers: response.headers };
      }
    } catch (err) {
      throw this.translate(err, request.signal, 'response');
    }
    try {
      return this.answerOf(answer.value as ChatCompletion, request);
    } catch (err) {
      throw this.named(err, answer.headers, request.signal);
    }
  }

  /** The answer read from a parsed response, whose shape is the upstream's word: checked, not trusted. */
  private answerOf(completion: ChatCompletion, request: ProviderRequest): ProviderCompletion {
    if (completion === null || typeof completion !== 'object') throw malformed(this.name, 'response (not a JSON object)');
    const error: unknown = (completion as { error?: unknown }).error;
    if (error !== undefined && error !== null && !Array.isArray(completion.choices)) throw errorInAnswer(this.name, error, 'response');
    const choice: ChatCompletion['choices'][number] | undefined = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
    if (choice === null || typeof choice !== 'object' || choice.message === null || typeof choice.message !== 'object') {
      throw malformed(this.name, 'response (no choices[0].message)');
    }
    let toolCalls: ToolCall[] | undefined;
    try {
      // A message that only calls tools has content null.
      toolCalls = toolCallsOf(choice.message);
    } catch (err) {
      throw malformed(this.name, `response (${(err as Error).message})`);
    }
    const given: unknown = choice.message.content;
    // A structured output refusal comes as `refusal`, content null.
    const refusal: unknown = choice.message.refusal;
    const refused = typeof refusal === 'string' && refusal !== '';
    // A reasoning model that spent max_tokens thinking has no content (vLLM: null beside reasoning_content).
    const thinking = reasoningOf(choice.message);
    const thought = isText(thinking);
    if (!(typeof given === 'string' || ((given === null || given === undefined) && (toolCalls || refused || thought)))) {
      throw malformed(this.name, 'response (no choices[0].message.content)');
    }
    if (choice.finish_reason === null || choice.finish_reason === undefined) {
      throw truncated(this.name, 'the response has no finish_reason');
    }
    if (failedFinish(choice.finish_reason)) throw truncated(this.name, `finish_reason "${choice.finish_reason}"`);
    const content = choice.message.content ?? '';
    // Thinking is billed as completion tokens: counted when the estimate stands in for the upstream's report.
    const generated =
      content + (refused ? refusal : '') + (toolCalls?.map((c) => c.name + c.arguments).join('') ?? '') + (thought ? thinking : '');
    const answer: { -readonly [K in keyof ProviderCompletion]: ProviderCompletion[K] } = {
      content,
      ...(refused ? { refusal } : {}),
      finishReason: refused ? 'content_filter' : withCalls(finishReasonOf(choice.finish_reason), toolCalls !== undefined),
      usage: usageOf(completion.usage, request, generated),
    };
    if (!completion.usage) answer.usageEstimated = true;
    if (toolCalls) answer.toolCalls = toolCalls;
    if (thought && thinking.length > 0) answer.thoughtChars = thinking.length;
    return answer;
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderStreamEvent> {
    for await (const events of this.streamReads(request)) yield* events;
  }

  async *streamReads(request: ProviderRequest): AsyncGenerator<readonly ProviderStreamEvent[]> {
    let response: StreamAnswer;
    try {
      const shape = await this.chat.shape();
      response = await this.streamOptions.open(
        (withOptions) => this.openStream(shape, request, withOptions),
        (err) => this.translate(err, request.signal, 'response'),
      );
    } catch (err) {
      throw this.translate(err, request.signal, 'response');
    }
    const body = response.body;
    if (body === null) throw malformed(this.name, 'stream (no body)');
    const decoder = new SseDecoder(this.maxEventBytes);
    let finishReason: FinishReason | undefined;
    let usage: TokenUsage | undefined;
    // Characters generated, for the usage estimate when the upstream reports none: a count, not the
    // text, so a long stream does not keep every token it relayed.
    let generated = 0;
    const calls = new ToolCallAssembler();
    const indexes = new ToolCallIndexes();
    const template = new ChunkTemplate();
    let done = false;
    // A structured output refusal streams as `delta.refusal` pieces, and the answer ends as content_filter.
    let refused = false;
    const reader = body[Symbol.asyncIterator]();
    try {
      for (;;) {
        const read = await reader.next();
        if (read.done) break;
        const events = decoder.push(read.value);
        // The deltas this read completed, handed on together; those before a failure still go out.
        const out: ProviderStreamEvent[] = [];
        let failure: unknown;
        let thought = false;
        let thoughtChars = 0;
        try {
          for (let i = 0; i < events.length; i++) {
            const event = events[i]!;
            if (event.data.startsWith('[DONE]')) {
              done = true;
              break;
            }
            if (event.event === 'error') throw errorEvent(this.name, event.data);
            if (isKeepAlive(event.data)) continue;
            // A token's chunk repeats the last learned one but for its text: read without parsing.
            const known = template.content(event.data);
            if (known !== undefined) {
              if (known) {
                generated += known.length;
                out.push({ type: 'delta', content: known });
              }
              continue;
            }
            const chunk = JSON.parse(event.data) as (ChatCompletionChunk & { error?: object }) | null;
            if (chunk === null || typeof chunk !== 'object') throw malformed(this.name, 'stream chunk (not a JSON object)');
            template.learn(event.data, chunk);
            if (chunk.error) throw errorInAnswer(this.name, chunk.error, 'stream');
            const choice = chunk.choices?.[0];
            const content: unknown = choice?.delta?.content;
            if (typeof content === 'string') {
              if (content) {
                generated += content.length;
                out.push({ type: 'delta', content });
              }
            } else if (content !== undefined && content !== null) throw malformed(this.name, 'stream chunk (delta.content is not text)');
            const refusal: unknown = choice?.delta?.refusal;
            if (typeof refusal === 'string' && refusal !== '') {
              refused = true;
              generated += refusal.length;
              out.push({ type: 'delta', content: '', refusal });
            }
            for (const piece of toolPieces(choice?.delta?.tool_calls)) {
              if (piece === undefined)
                throw malformed(
                  this.name,
                  'stream chunk (a tool call piece whose index is not a whole number or whose arguments are not text)',
                );
              const index = indexes.of(piece);
              const toolCall = calls.add({ index, id: piece.id, name: piece.function?.name, arguments: piece.function?.arguments ?? '' });
              generated += toolCallChars(toolCall);
              out.push({ type: 'delta', content: '', toolCall });
            }
            // A reasoning model's thinking (vLLM's reasoning_content; Ollama's and OpenRouter's reasoning) is not relayed, but it is progress.
            const thinking = reasoningOf(choice?.delta);
            if (isText(thinking)) {
              thought = true;
              thoughtChars += thinking.length;
            }
            if (failedFinish(choice?.finish_reason)) throw truncated(this.name, `finish_reason "${choice?.finish_reason}"`);
            if (choice?.finish_reason) finishReason = finishReasonOf(choice.finish_reason);
            // Moonshot puts the usage in the last chunk's choice, beside its finish reason.
            const reported = chunk.usage ?? (choice as { usage?: ChatCompletionChunk['usage'] } | undefined)?.usage;
            if (reported) usage = usageOf(reported, request, generated);
          }
        } catch (err) {
          failure = err;
        }
        // Told before the deltas go out, so a consumer that stops at them does not lose the thinking's count.
        if (thought) request.onProgress?.(thoughtChars);
        generated += thoughtChars;
        if (out.length > 0) yield out;
        if (failure !== undefined) throw failure;
        // The answer is whole at [DONE]: it ends now, whenever the upstream closes the response.
        if (done) break;
      }
    } catch (err) {
      throw this.named(this.translate(err, request.signal, 'stream'), response.headers, request.signal);
    } finally {
      // Left early (the consumer stopped, an error, a limit): closing the body closes the connection.
      if (!done) body.destroy?.();
      else readOnAfterEnd(reader, () => body.destroy?.(), { maxBytes: this.maxEventBytes });
    }
    if (request.signal.aborted) throw abortError(request.signal);
    if (finishReason === undefined) {
      throw this.named(truncated(this.name, 'no finish_reason before the end of the stream'), response.headers, request.signal);
    }
    const toolCalls = calls.size > 0 ? { toolCalls: calls.result() } : {};
    const reported = usage ? { usage } : { usage: usageOf(undefined, request, generated), usageEstimated: true };
    const reason = refused ? 'content_filter' : withCalls(finishReason, calls.size > 0);
    yield [{ type: 'end', finishReason: reason, ...reported, ...toolCalls }];
  }

  /** A stream's response, its headers in. */
  private openStream(shape: Endpoint | undefined, request: ProviderRequest, withOptions: boolean): Promise<StreamAnswer> {
    const params = this.params(request, true);
    if (!withOptions) delete params.stream_options;
    return shape
      ? this.chat.send(shape, params, request.signal, request.headers)
      : (this.client.chat.completions
          .create(params, { signal: request.signal, headers: request.headers })
          .asResponse() as unknown as Promise<StreamAnswer>);
  }

  /** Reasoning models take no temperature but their fixed default: it is left out for them. */
  sendsTemperature(upstreamModel: string, sampling: Sampling | undefined): boolean {
    return takesSampling(upstreamModel, sampling?.reasoningEffort);
  }

  /** The request body, built in one object (its keys in wire order: the request, then `stream`). */
  private params(request: ProviderRequest, stream: false): ChatCompletionCreateParamsNonStreaming;
  private params(request: ProviderRequest, stream: true): ChatCompletionCreateParamsStreaming;
  private params(request: ProviderRequest, stream: boolean): ChatCompletionCreateParamsBase {
    const params: ChatCompletionCreateParamsBase = {
      model: request.upstreamModel,
      messages: toOpenAIMessages(request.messages),
    };
    if (this.sendsTemperature(request.upstreamModel, request.sampling)) params.temperature = request.temperature;
    params[this.maxTokensField] = request.maxTokens;
    const s = request.sampling;
    if (s) {
      if (s.topP !== undefined) params.top_p = s.topP;
      if (s.stop) params.stop = [...s.stop];
      if (s.seed !== undefined) params.seed = s.seed;
      if (s.presencePenalty !== undefined) params.presence_penalty = s.presencePenalty;
      if (s.frequencyPenalty !== undefined) params.frequency_penalty = s.frequencyPenalty;
      if (s.user !== undefined) params.user = s.user;
      if (s.reasoningEffort !== undefined) params.reasoning_effort = s.reasoningEffort;
    }
    if (request.tooling) applyTooling(params, request.tooling);
    params.stream = stream;
    if (stream) params.stream_options = { include_usage: true };
    return params;
  }

  /** `err` naming the upstream's id of the request whose response came with `headers`. */
  private named(err: unknown, headers: { get(name: string): string | null }, signal: AbortSignal): unknown {
    return withUpstreamRequestId(err, { headers, header: REQUEST_ID_HEADER.openai, signal });
  }

  private translate(err: unknown, signal: AbortSignal, phase: 'response' | 'stream'): OrchestratorError {
    if (err instanceof OrchestratorError) return err;
    if (signal.aborted) return abortError(signal);
    const known = transportError(this.name, err);
    if (known) return known;
    if (err instanceof OpenAI.APIUserAbortError) return abortError(signal);
    if (err instanceof OpenAI.APIConnectionTimeoutError) return upstreamTimeout(this.name, this.timeoutMs ?? SDK_GUARD_TIMEOUT_MS, err);
    if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
      const { status, code, type } = err;
      const requestId = upstreamRequestIdOf(err.headers, REQUEST_ID_HEADER.openai);
      return (
        accountRefused(this.name, { status, code, type, requestId }) ??
        errorForUpstreamStatus({ provider: this.name, status, retryAfterMs: parseRetryAfter(err.headers), requestId })
      );
    }
    if (err instanceof SyntaxError || (err instanceof OpenAI.OpenAIError && /JSON/i.test(err.message))) {
      return malformed(this.name, phase === 'stream' ? 'stream chunk' : 'response body', err);
    }
    return unrecognised(this.name, err, phase);
  }
}

/** An answer's body as the stream reads it: chunks, and a way to close it early. */
type StreamBody = AsyncIterable<Uint8Array> & { destroy?: () => void };

/** A streamed answer whose headers arrived: ours (undici-stream.ts) or the SDK's Response. */
type StreamAnswer = { readonly headers: { get(name: string): string | null }; readonly body: StreamBody | null };
