import type { default as Anthropic, ClientOptions } from '@anthropic-ai/sdk';
import type { Message, MessageCreateParamsBase, RawMessageStreamEvent, StopReason } from '@anthropic-ai/sdk/resources/messages';
import type { Sampling } from '../../domain/chat.js';
import { ToolCallAssembler } from '../../domain/tools.js';
import { completionOf, finishReasonOf } from './answer.js';
import { withCalls } from '../openai/answer-fields.js';
import { applyTooling, checkImageDetail, toAnthropicConversation, type ToolingBody } from './tooling.js';
import { countsOf, estimatedUsage, tokenUsageOf, withDelta, type UsageCounts } from './usage.js';
import { OrchestratorError } from '../../domain/errors.js';
import { acceptsSampling } from './versions.js';
import { accountRefused, eventShapeProblem, statusOfErrorType, streamError } from './errors.js';
import { applySampling } from './sampling.js';
import { isKeepAlive, SseDecoder } from '../http/fast-sse.js';
import { readOnAfterEnd } from '../http/after-end.js';
import { createUndiciFetch, type UndiciFetch } from '../http/undici-fetch.js';
import { upstreamHttpOptions, type UpstreamHttpOptions } from '../http/upstream-http.js';
import type { Provider, ProviderCompletion, ProviderRequest, ProviderStreamEvent } from '../types.js';
import {
  abortError,
  errorForUpstreamStatus,
  malformed,
  parseRetryAfter,
  SDK_GUARD_TIMEOUT_MS,
  transportError,
  truncated,
  unrecognised,
  upstreamTimeout,
} from '../upstream-errors.js';
import { REQUEST_ID_HEADER, upstreamRequestIdOf, withUpstreamRequestId } from '../upstream-request-id.js';
import { extend } from '../../domain/extend.js';

export interface AnthropicProviderOptions extends UpstreamHttpOptions {
  /** Name shown in answers and stats. */
  readonly name: string;
  /**
   * The API root, without /v1: the SDK appends /v1/messages itself. 'https://api.anthropic.com'
   * for the real API; the simulator's `url` (not its `baseURL`, which ends in /v1).
   */
  readonly baseURL: string;
  readonly apiKey: string;
  readonly defaultHeaders?: Readonly<Record<string, string>>;
  /** Per upstream call, until the response headers, on top of the call's deadline (the provider's `timeout_ms`). */
  readonly timeoutMs?: number;
  /**
   * The `anthropic-version` header. Default: the SDK's own (2026-10-21 for SDK 1.x), which has
   * no sampling parameters, so `temperature` is not sent; with an earlier version (2023-06-01)
   * it is, clamped to the 0..1 that the API takes, unless the request sets top_p.
   */
  readonly anthropicVersion?: string;
}

export { toAnthropicConversation, type AnthropicConversation } from './tooling.js';

/** The request body; `temperature` and `top_p` are not in SDK 1.x's types, as its default API version refuses them. */
type MessageBody = MessageCreateParamsBase & ToolingBody & { temperature?: number; top_p?: number };

/**
 * The Anthropic Messages API through the official SDK (@anthropic-ai/sdk). One SDK client per
 * provider, created once; retries, timeouts, logging and telemetry are the engine's, so the
 * SDK's are switched off. Requests go through our undici transport, as the OpenAI provider's
 * do: no redirect is followed (the global fetch would), every new connection is checked
 * against the SSRF rules, and bodies and stream events are bounded. A stream is read from the
 * raw response by one generator over the SSE decoder.
 */
export class AnthropicProvider implements Provider {
  readonly name: string;
  private readonly clientOptions: ClientOptions;
  private client: Promise<Anthropic> | undefined;
  private sdk: typeof Anthropic | undefined;
  /** The configured API version takes sampling parameters (temperature, top_p). */
  private readonly takesSampling: boolean;
  private readonly timeoutMs: number | undefined;
  private readonly http: UndiciFetch;
  private readonly maxEventBytes: number;

  constructor(options: AnthropicProviderOptions) {
    this.name = options.name;
    this.timeoutMs = options.timeoutMs;
    const http = upstreamHttpOptions(options);
    this.maxEventBytes = http.maxEventBytes;
    this.http = createUndiciFetch(http.fetch);
    const version = options.anthropicVersion;
    this.takesSampling = version !== undefined && acceptsSampling(version);
    this.clientOptions = {
      // An explicit key also stops the SDK from looking for credentials in the environment and in profile files.
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      maxRetries: 0,
      // Failures are ours to log, once, with the request id.
      logLevel: 'off',
      // No spans and no traceparent header: telemetry is ours too.
      openTelemetry: { traces: false, propagation: false },
      // Our AbortSignal carries the real deadline; this only guards against a lost signal. Set
      // explicitly, it also keeps the SDK from refusing large non-streamed max_tokens.
      timeout: options.timeoutMs ?? SDK_GUARD_TIMEOUT_MS,
      defaultHeaders: extend(options.defaultHeaders ?? {}, version !== undefined ? { 'anthropic-version': version } : {}),
      fetch: this.http,
    };
  }

  /** The SDK client, its module loaded on first use (several MB most processes never need). */
  sdkClient(): Promise<Anthropic> {
    this.client ??= import('@anthropic-ai/sdk').then(({ default: sdk }) => {
      this.sdk = sdk;
      return new sdk(this.clientOptions);
    });
    return this.client;
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  async complete(request: ProviderRequest): Promise<ProviderCompletion> {
    let answer: { data: Message; response: Response };
    try {
      answer = await (await this.sdkClient()).messages
        .create(extend(this.body(request), { stream: false }), { signal: request.signal, headers: request.headers })
        .withResponse();
    } catch (err) {
      throw this.translate(err, request.signal, 'response');
    }
    try {
      return completionOf(this.name, answer.data, request);
    } catch (err) {
      throw this.named(err, answer.response.headers, request.signal);
    }
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderStreamEvent> {
    for await (const events of this.streamReads(request)) yield* events;
  }

  async *streamReads(request: ProviderRequest): AsyncGenerator<readonly ProviderStreamEvent[]> {
    let response: Response;
    try {
      response = await (await this.sdkClient()).messages
        .create(extend(this.body(request), { stream: true }), { signal: request.signal, headers: request.headers })
        .asResponse();
    } catch (err) {
      throw this.translate(err, request.signal, 'response');
    }
    const body = response.body as unknown as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | null;
    if (body === null) throw malformed(this.name, 'stream (no body)');
    const decoder = new SseDecoder(this.maxEventBytes);
    let usage: UsageCounts | undefined;
    let stopReason: StopReason | null = null;
    let stopped = false;
    let ended = false;
    // Characters generated, for the usage estimate when the upstream reports none: a count, not the
    // text, so a long stream does not keep every token it relayed (or every thought it did not).
    let generated = 0;
    const calls = new ToolCallAssembler();
    // Content block index -> tool call index: tool_use blocks are numbered among themselves.
    const toolBlocks = new Map<number, number>();
    // Tool calls (by their index) whose input text has not begun -> their arguments if none comes.
    const emptyInput = new Map<number, string>();
    const reader = body[Symbol.asyncIterator]();
    try {
      for (;;) {
        const read = await reader.next();
        if (read.done) {
          ended = true;
          break;
        }
        const events = decoder.push(read.value);
        // The deltas this read completed, handed on together; those before a failure still go out.
        const out: ProviderStreamEvent[] = [];
        let failure: unknown;
        let thought = false;
        let thoughtChars = 0;
        try {
          for (let i = 0; i < events.length; i++) {
            const sse = events[i]!;
            if (stopped || sse.event === 'ping') continue;
            if (sse.event === 'error') throw streamError(this.name, sse.data);
            if (isKeepAlive(sse.data)) continue;
            const parsed: unknown = JSON.parse(sse.data);
            const problem = eventShapeProblem(parsed);
            if (problem !== undefined) throw malformed(this.name, `stream event (${problem})`);
            // A proxy that leaves out the event lines sends an error event as its data alone.
            if ((parsed as { type?: unknown }).type === 'error') throw streamError(this.name, sse.data);
            const event = parsed as RawMessageStreamEvent;
            switch (event.type) {
              case 'message_start': {
                // Anthropic-compatible servers may report no usage: the estimate is charged then, as for a unary answer.
                const reported = event.message?.usage;
                usage = reported ? countsOf(reported) : undefined;
                if (usage) request.onPromptUsage?.(tokenUsageOf(extend(usage, { output: 0 })));
                break;
              }
              case 'content_block_start':
                if (event.content_block.type === 'tool_use') {
                  const toolCall = { index: toolBlocks.size, id: event.content_block.id, name: event.content_block.name, arguments: '' };
                  toolBlocks.set(event.index, toolCall.index);
                  // The API starts every call with input {}; a server that puts the whole input
                  // here and streams no input_json_delta is read as the SDK reads it.
                  emptyInput.set(toolCall.index, JSON.stringify(event.content_block.input ?? {}));
                  calls.add(toolCall);
                  generated += toolCall.name.length;
                  out.push({ type: 'delta', content: '', toolCall });
                } else if (
                  event.content_block.type === 'text' &&
                  typeof event.content_block.text === 'string' &&
                  event.content_block.text
                ) {
                  // The API starts every text block empty; a server that starts one with text is read as the SDK reads it.
                  generated += event.content_block.text.length;
                  out.push({ type: 'delta', content: event.content_block.text });
                }
                break;
              case 'content_block_delta':
                if (event.delta.type === 'text_delta') {
                  if (typeof event.delta.text !== 'string') throw malformed(this.name, 'stream event (text_delta without text)');
                  if (!event.delta.text) break;
                  generated += event.delta.text.length;
                  out.push({ type: 'delta', content: event.delta.text });
                } else if (event.delta.type === 'thinking_delta') {
                  // Not relayed, but the model is generating: progress for the stall watchdog, and
                  // output tokens the estimate counts when the upstream reports no usage.
                  thought = true;
                  if (typeof event.delta.thinking === 'string') thoughtChars += event.delta.thinking.length;
                } else if (event.delta.type === 'input_json_delta') {
                  if (typeof event.delta.partial_json !== 'string')
                    throw malformed(this.name, 'stream event (input_json_delta without text)');
                  if (!event.delta.partial_json) break;
                  const index = toolBlocks.get(event.index);
                  if (index === undefined) break;
                  emptyInput.delete(index);
                  const toolCall = { index, arguments: event.delta.partial_json };
                  calls.add(toolCall);
                  generated += toolCall.arguments.length;
                  out.push({ type: 'delta', content: '', toolCall });
                }
                break;
              case 'content_block_stop': {
                // A tool called without input streams no input text; its arguments are {} (as
                // unary reads them), or the input its start carried, sent as a piece so the
                // pieces add up to the call.
                const index = toolBlocks.get(event.index);
                const input = index === undefined ? undefined : emptyInput.get(index);
                if (index === undefined || input === undefined) break;
                emptyInput.delete(index);
                const toolCall = { index, arguments: input };
                calls.add(toolCall);
                generated += toolCall.arguments.length;
                out.push({ type: 'delta', content: '', toolCall });
                break;
              }
              case 'message_delta':
                stopReason = event.delta.stop_reason;
                usage = withDelta(usage, event.usage);
                if (usage) request.onAnswerUsage?.(tokenUsageOf(usage));
                break;
              case 'message_stop':
                stopped = true;
                break;
              default:
                // Event types newer than this code.
                break;
            }
          }
        } catch (err) {
          failure = err;
        }
        // Told before the deltas go out, so a consumer that stops at them does not lose the thinking's count.
        if (thought) request.onProgress?.(thoughtChars);
        generated += thoughtChars;
        if (out.length > 0) yield out;
        if (failure !== undefined) throw failure;
        // The answer is whole at message_stop: it ends now, whenever the upstream closes the response.
        if (stopped) break;
      }
    } catch (err) {
      // After message_stop the answer is whole; a connection lost on the way out costs nothing.
      if (!stopped || stopReason === null || request.signal.aborted) {
        throw this.named(this.translate(err, request.signal, 'stream'), response.headers, request.signal);
      }
    } finally {
      // After message_stop the rest is read in the background, so the keep-alive connection is
      // reused; left early (the consumer stopped, an error), the body is closed.
      if (stopped && !ended) readOnAfterEnd(reader, () => body.destroy?.(), { maxBytes: this.maxEventBytes });
      else if (!ended) body.destroy?.();
    }
    if (request.signal.aborted) throw abortError(request.signal);
    // Here the stream reached message_stop or a clean end (a cut connection threw above). The stop
    // reason ends the answer, as the SDK reads it: some compatible gateways close the response
    // after message_delta without message_stop, and that answer is whole.
    if (stopReason === null) {
      const cut = truncated(this.name, `no stop_reason before ${stopped ? 'message_stop' : 'the end of the stream'}`);
      throw this.named(cut, response.headers, request.signal);
    }
    yield [
      {
        type: 'end',
        finishReason: withCalls(finishReasonOf(stopReason), calls.size > 0),
        ...(usage ? { usage: tokenUsageOf(usage) } : { usage: estimatedUsage(request, generated), usageEstimated: true }),
        // A tool called without input streams no input deltas: its arguments are {}, as unary reads them.
        ...(calls.size > 0 ? { toolCalls: calls.result().map((c) => (c.arguments === '' ? extend(c, { arguments: '{}' }) : c)) } : {}),
      },
    ];
  }

  private body(request: ProviderRequest): MessageBody {
    const where = { provider: this.name, model: request.upstreamModel };
    checkImageDetail(request.messages, where);
    const conversation = toAnthropicConversation(request.messages, this.name);
    const body: MessageBody = {
      model: request.upstreamModel,
      // Required by the Messages API.
      max_tokens: request.maxTokens,
      messages: conversation.messages,
    };
    if (conversation.system !== undefined) body.system = conversation.system;
    // Anthropic's temperature range is 0..1 (ours, OpenAI's, is 0..2): values above 1 are
    // clamped to 1, the most random the API allows.
    if (this.sendsTemperature(request.upstreamModel, request.sampling)) body.temperature = Math.min(Math.max(request.temperature, 0), 1);
    if (request.sampling) applySampling(body, request.sampling, extend(where, { takesTopP: this.takesSampling }));
    if (request.tooling) applyTooling(body, request.tooling, where);
    return body;
  }

  /**
   * Only to API versions that take it, and not beside top_p: current models refuse the two
   * together (400), and a request always carries a temperature (the default when the caller set
   * none) but top_p only when asked for.
   */
  sendsTemperature(_upstreamModel: string, sampling: Sampling | undefined): boolean {
    return this.takesSampling && sampling?.topP === undefined;
  }

  /** `err` naming the upstream's id of the request whose response came with `headers`. */
  private named(err: unknown, headers: { get(name: string): string | null }, signal: AbortSignal): unknown {
    return withUpstreamRequestId(err, { headers, header: REQUEST_ID_HEADER.anthropic, signal });
  }

  private translate(err: unknown, signal: AbortSignal, phase: 'response' | 'stream'): OrchestratorError {
    if (err instanceof OrchestratorError) return err;
    if (signal.aborted) return abortError(signal);
    const known = transportError(this.name, err);
    if (known) return known;
    const sdk = this.sdk; // loaded before any request went out, so before any error of its own
    // APIUserAbortError is an APIError without a status: test it first.
    if (sdk && err instanceof sdk.APIUserAbortError) return abortError(signal);
    if (sdk && err instanceof sdk.APIConnectionTimeoutError) return upstreamTimeout(this.name, this.timeoutMs ?? SDK_GUARD_TIMEOUT_MS, err);
    if (sdk && err instanceof sdk.APIError) {
      // An `event: error` inside a 200 stream (e.g. overloaded_error) has a type, not a status.
      const status = typeof err.status === 'number' ? err.status : statusOfErrorType(err.type);
      if (status !== undefined) {
        const requestId = upstreamRequestIdOf(err.headers, REQUEST_ID_HEADER.anthropic);
        const refused = accountRefused(this.name, { status, apiMessage: err.apiMessage, errorCode: err.errorCode, requestId });
        if (refused) return refused;
        return errorForUpstreamStatus({ provider: this.name, status, retryAfterMs: parseRetryAfter(err.headers), requestId });
      }
    }
    if (err instanceof SyntaxError || (sdk && err instanceof sdk.AnthropicError && /JSON/i.test(err.message))) {
      return malformed(this.name, phase === 'stream' ? 'stream event' : 'response body', err);
    }
    return unrecognised(this.name, err, phase);
  }
}
