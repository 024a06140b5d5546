import { isSimulatedProvider } from '../domain/simulated.js';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { EngineStreamEvent } from '../engine/index.js';
import type { CallContext } from '../engine/index.js';
import { toHttpError } from './errors.js';
import { attemptsText, cacheText, encodeDecision, encodeFinish, encodeNumber, nowSeconds, usageText } from './encode.js';
import { round3 } from '../domain/latency.js';
import type { HandlerResult } from './call.js';
import { REQUEST_ID_HEADER } from './call.js';
import { extend } from '../domain/extend.js';

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
 * Pull-based with a bound: events are taken from the engine while the socket accepts writes,
 * and once its buffer is full the next one is asked for only after 'drain', so a slow reader
 * slows the upstream instead of filling memory; a client that goes away aborts the call's
 * signal and the upstream request is closed.
 */
export async function relayStream(
  reply: FastifyReply,
  ctx: CallContext,
  events: AsyncGenerator<readonly EngineStreamEvent[]>,
  includeUsage: boolean,
): Promise<HandlerResult> {
  const res = reply.raw;
  const out = new EventWriter(res, ctx.signal);
  // Read to its end: nothing left to close, and return() on a finished generator still costs promises.
  let drained = false;
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
      const group = next.value;
      let text = '';
      for (let i = 0; i < group.length; i++) text += chunks.of(group[i]!, group[i + 1]);
      const waiting = out.write(text);
      if (waiting) await waiting;
      next = await events.next();
    }
    drained = true;
    out.end('data: [DONE]\n\n');
    return { streamed: true };
  } catch (err) {
    if (!res.headersSent) throw err;
    if (!res.destroyed && !res.writableEnded) {
      const { body } = toHttpError(err, ctx.requestId);
      out.end(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
    }
    return { streamed: true, error: err };
  } finally {
    // Closes the upstream request when we stop early (client gone, write failed).
    if (!drained) await events.return(undefined).catch(() => undefined);
  }
}

/** How long the end of a stream waits for a client that reads nothing more (any progress starts it again). */
const UNREAD_END_MS = 10_000;

/**
 * The events of one stream onto the socket, one write per turn of the event loop (or sooner,
 * past a socket buffer's worth): the groups the engine hands out in one turn (each the events
 * of one upstream read) go out in one write, flushed by setImmediate at the end of that turn;
 * no event waits for a later read. By then the
 * upstream body's end (which a Readable body announces a tick after its last data) has reached
 * the relay too, and `data: [DONE]` goes in the same write: flushed on process.nextTick instead,
 * a stream answered in one read took three socket writes instead of two (headers and events,
 * then the end). Backpressure: once the socket's buffer is full, write() hands
 * back a promise that settles on 'drain' (or rejects when the call ends), so the relay asks
 * the engine for nothing more until the reader caught up.
 */
class EventWriter {
  private pending = '';
  private flushing = false;
  private blocked: Promise<void> | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly signal: AbortSignal,
  ) {}

  /**
   * Undefined when the relay may go on at once. After the call's abort (deadline, shutdown) text
   * is still queued: the engine's stream sees the same abort and ends its own way, with the error
   * event that lists its attempts. Only a connection that is gone stops the relay here.
   */
  write(text: string): Promise<void> | undefined {
    if (this.res.destroyed) return Promise.reject(this.signal.reason ?? new Error('connection closed'));
    this.pending += text;
    // Reads an upstream socket completed in one poll reach the relay before the turn ends (2 MB
    // and more from a fast upstream): past a socket buffer's worth they go now, so a full socket
    // stops the relay here instead of after all of them.
    if (this.pending.length >= this.res.writableHighWaterMark) this.flush();
    else if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        this.flush();
      });
    }
    return this.blocked;
  }

  end(last: string): void {
    const text = this.pending + last;
    this.pending = '';
    this.res.end(text);
    // The call is over (its deadline often ended it), but a client that stopped reading would
    // hold the connection and what is buffered for it for as long as it lives: with bytes the
    // socket did not take, it gets UNREAD_END_MS without taking any, then the connection closes.
    // Once the response is flushed, the server's keep-alive timeout applies instead.
    if (this.res.writableLength > 0) this.res.setTimeout(UNREAD_END_MS, () => this.res.destroy());
  }

  private flush(): void {
    if (this.pending === '' || this.res.writableEnded || this.res.destroyed) return;
    const text = this.pending;
    this.pending = '';
    if (!this.res.write(text) && this.blocked === undefined) {
      const wait = drained(this.res, this.signal);
      const clear = (): void => {
        this.blocked = undefined;
      };
      // Also handles a rejection the relay never awaits (it stopped on the same abort).
      wait.then(clear, clear);
      this.blocked = wait;
    }
  }
}

/**
 * Engine events -> `data: {chunk}\n\n` text. A content delta, nearly every event of a stream,
 * is written from a prefix and suffix made once per model: only the text goes through
 * JSON.stringify; so are the start and the usage chunk, once per stream each. The rare events
 * (tool calls, restart) and the last chunk with its attempts are built as objects. All give
 * the same bytes as JSON.stringify of the chunk object.
 */
export class ChunkEncoder {
  private model = '';
  private readonly created = nowSeconds();
  private readonly usageNull: string;
  /** `data: {` and the members before `choices`, with the model: made once per model. */
  private head = '';
  private deltaPrefix = '';
  /** `x_orchestrator.cache` of the last chunk: null unless the stream replays a cached answer. */
  private cache = 'null';
  /** The answer being streamed is a refusal with words: it finishes as `stop`, as OpenAI's does (encodeFinish). */
  private refused = false;

  constructor(
    private readonly id: string,
    private readonly includeUsage: boolean,
  ) {
    this.usageNull = includeUsage ? ',"usage":null' : '';
  }

  /**
   * `next`: the event after this one in its group. `started` comes grouped with the model's first
   * delta, which says whether the answer opens with text: OpenAI's first chunk has content `""`
   * before text and `null` before tool calls or a refusal, and clients that accumulate the deltas
   * (the Python SDK's stream helpers) end with what it said when no text follows.
   */
  of(event: EngineStreamEvent, next?: EngineStreamEvent): string {
    switch (event.type) {
      case 'started': {
        this.setModel(event.model);
        // A replayed cached answer says so from its first chunk, as gRPC's `started` does.
        this.cache = cacheText(event.cache);
        const noText = next?.type === 'delta' && (next.toolCall !== undefined || next.refusal !== undefined);
        return (
          `${this.head}[{"index":0,"delta":{"role":"assistant","content":${noText ? 'null' : '""'}},"logprobs":null,"finish_reason":null}]${this.usageNull},` +
          `"x_orchestrator":{"provider":${JSON.stringify(event.provider)},"simulated":${isSimulatedProvider(event.provider)}` +
          `${event.cache ? `,"cache":${this.cache}` : ''}}}\n\n`
        );
      }
      case 'delta': {
        const call = event.toolCall;
        if (event.refusal !== undefined) {
          this.refused = true;
          return this.data(this.chunk([{ index: 0, delta: { refusal: event.refusal }, logprobs: null, finish_reason: null }]));
        }
        if (!call) {
          if (this.deltaPrefix === '') this.setModel(this.model);
          return `${this.deltaPrefix}${JSON.stringify(event.content)}},"logprobs":null,"finish_reason":null}]${this.usageNull}}\n\n`;
        }
        // A tool call's first piece carries its id, type and name; later pieces only more arguments.
        const delta = {
          tool_calls: [
            {
              index: call.index,
              ...(call.id ? { id: call.id, type: 'function' } : {}),
              function: extend(call.name ? { name: call.name } : {}, { arguments: call.arguments }),
            },
          ],
        };
        return this.data(this.chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]));
      }
      case 'restarted':
        // The answer starts over on the next model: clients drop what they have so far.
        this.setModel(event.nextModel);
        this.refused = false;
        return this.data(
          this.chunk([], {
            restarted: {
              failed_model: event.failedModel,
              reason: event.reason,
              next_model: event.nextModel,
              next_provider: event.nextProvider,
            },
          }),
        );
      case 'completed': {
        this.setModel(event.model);
        // Written from the head as the deltas are (only strings and the nested lists go through
        // JSON.stringify): the same bytes as JSON.stringify of the chunk object.
        const last =
          `${this.head}[{"index":0,"delta":{},"logprobs":null,"finish_reason":"${encodeFinish(event.finishReason, this.refused)}"}]${this.usageNull},` +
          `"x_orchestrator":{"provider":${JSON.stringify(event.provider)},"simulated":${isSimulatedProvider(event.provider)},` +
          `"cost_usd":${encodeNumber(event.costUsd)},"latency_ms":${encodeNumber(round3(event.latencyMs))},` +
          `"time_to_first_token_ms":${encodeNumber(round3(event.timeToFirstTokenMs))},` +
          `"attempts":${attemptsText(event.attempts)},"fallback_triggered":${event.fallbackTriggered},` +
          `"cache":${this.cache},"route_decision":${event.decision ? JSON.stringify(encodeDecision(event.decision)) : 'null'}}}\n\n`;
        if (!this.includeUsage) return last;
        return `${last}${this.head}[],"usage":${usageText(event.usage)}}\n\n`;
      }
    }
  }

  private setModel(model: string): void {
    if (model === this.model && this.deltaPrefix !== '') return;
    this.model = model;
    this.head =
      `data: {"id":${JSON.stringify(this.id)},"object":"chat.completion.chunk","created":${this.created},` +
      `"model":${JSON.stringify(model)},"choices":`;
    this.deltaPrefix = `${this.head}[{"index":0,"delta":{"content":`;
  }

  private data(chunk: object): string {
    return `data: ${JSON.stringify(chunk)}\n\n`;
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

/**
 * Settles on 'drain', or on the call's abort, after which 'drain' may never come (the relay goes
 * on to the engine's own end); rejects when the connection closes first.
 */
function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
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
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(signal.reason ?? new Error('connection closed'));
    };
    res.on('drain', onDrain);
    res.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
