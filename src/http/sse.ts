import { isSimulatedProvider } from '../domain/simulated.js';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { EngineStreamEvent } from '../engine/index.js';
import type { CallContext } from '../engine/index.js';
import { encodeAttempt, toHttpError } from './errors.js';
import { encodeDecision, encodeFinish, encodeUsage, nowSeconds, round3 } from './encode.js';
import type { HandlerResult } from './call.js';
import { REQUEST_ID_HEADER } from './call.js';

/**
 * A chat completion as server-sent events, the way the OpenAI SDKs read it: one
 * `chat.completion.chunk` per delta, a last chunk with the finish reason, a usage chunk when
 * asked, then `data: [DONE]`.
 *
 * Nothing is written until the first event: a failure before it (bad model, limits, every
 * attempt failing before a token) is a plain HTTP error with its status. A failure after it
 * ends the stream with an `error` event whose data is `{ "error": {...} }`, which the SDKs
 * raise as an APIError; never a clean end that looks complete.
 *
 * Pull-based: the next event is asked of the engine only once the socket took the last one,
 * so a slow reader slows the upstream instead of filling memory; a client that goes away
 * aborts the call's signal and the upstream request is closed.
 */
export async function relayStream(
  reply: FastifyReply,
  ctx: CallContext,
  events: AsyncGenerator<EngineStreamEvent>,
  includeUsage: boolean,
): Promise<HandlerResult> {
  const res = reply.raw;
  try {
    const first = await events.next();
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Proxies that buffer (nginx) would hold the tokens back.
      'x-accel-buffering': 'no',
      [REQUEST_ID_HEADER]: ctx.requestId,
    });
    const chunks = new ChunkEncoder(ctx.requestId, includeUsage);
    let next = first;
    while (!next.done) {
      for (const chunk of chunks.of(next.value)) await write(res, `data: ${JSON.stringify(chunk)}\n\n`, ctx.signal);
      next = await events.next();
    }
    await write(res, 'data: [DONE]\n\n', ctx.signal);
    res.end();
    return { streamed: true };
  } catch (err) {
    if (!res.headersSent) throw err;
    if (!res.destroyed && !res.writableEnded) {
      const { body } = toHttpError(err, ctx.requestId);
      res.end(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
    }
    return { streamed: true, error: err };
  } finally {
    // Closes the upstream request when we stop early (client gone, write failed).
    await events.return(undefined).catch(() => undefined);
  }
}

class ChunkEncoder {
  private model = '';
  private readonly created = nowSeconds();

  constructor(
    private readonly id: string,
    private readonly includeUsage: boolean,
  ) {}

  of(event: EngineStreamEvent): object[] {
    switch (event.type) {
      case 'started':
        this.model = event.model;
        return [
          this.chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], {
            provider: event.provider,
            simulated: isSimulatedProvider(event.provider),
          }),
        ];
      case 'delta': {
        const call = event.toolCall;
        // A tool call's first piece carries its id, type and name; later pieces only more arguments.
        const delta = call
          ? {
              tool_calls: [
                {
                  index: call.index,
                  ...(call.id ? { id: call.id, type: 'function' } : {}),
                  function: { ...(call.name ? { name: call.name } : {}), arguments: call.arguments },
                },
              ],
            }
          : { content: event.content };
        return [this.chunk([{ index: 0, delta, logprobs: null, finish_reason: null }])];
      }
      case 'restarted':
        // The answer starts over on the next model: clients drop what they have so far.
        this.model = event.nextModel;
        return [
          this.chunk([], {
            restarted: {
              failed_model: event.failedModel,
              reason: event.reason,
              next_model: event.nextModel,
              next_provider: event.nextProvider,
            },
          }),
        ];
      case 'completed': {
        this.model = event.model;
        const last = this.chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: encodeFinish(event.finishReason) }], {
          provider: event.provider,
          simulated: isSimulatedProvider(event.provider),
          cost_usd: event.costUsd,
          latency_ms: round3(event.latencyMs),
          time_to_first_token_ms: round3(event.timeToFirstTokenMs),
          attempts: event.attempts.map(encodeAttempt),
          fallback_triggered: event.fallbackTriggered,
          cache: null,
          route_decision: event.decision ? encodeDecision(event.decision) : null,
        });
        if (!this.includeUsage) return [last];
        return [last, { ...this.chunk([]), usage: encodeUsage(event.usage) }];
      }
    }
  }

  private chunk(choices: object[], extra?: object): object {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices,
      ...(this.includeUsage ? { usage: null } : {}),
      ...(extra ? { x_orchestrator: extra } : {}),
    };
  }
}

/** Resolves once the socket took the data; waits for 'drain' when its buffer is full, raced with the call's end. */
function write(res: ServerResponse, data: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (res.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      res.removeListener('drain', onDrain);
      res.removeListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason);
    };
    // After a disconnect 'drain' never comes.
    const onClose = (): void => {
      cleanup();
      reject(signal.reason ?? new Error('connection closed'));
    };
    res.on('drain', onDrain);
    res.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
