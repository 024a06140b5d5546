import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CallContext } from '../engine/index.js';
import { isLogged } from '../domain/errors.js';
import { createCallContext, type ServerCallContext } from './context.js';
import { toGrpcStatus } from './errors.js';
import type { InFlight, Lifecycle } from './lifecycle.js';
import { checkDecoded } from './undecodable.js';

export interface CallDeps {
  readonly log: Logger;
  readonly lifecycle: Lifecycle;
  readonly defaultTimeoutMs: number;
}

/**
 * grpc-js ignores the promise an async handler returns, so every handler goes through one of
 * these: a unary handler is a plain async function of (request, context); a streaming handler
 * returns its events and an encoder. Errors become statuses in one place (errors.ts).
 */
export function unary<Req, Res>(deps: CallDeps, handler: (request: Req, ctx: CallContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const ctx = createCallContext(call, deps.log, deps.defaultTimeoutMs);
    let inFlight: InFlight | undefined;
    const run = async (): Promise<Res> => {
      inFlight = deps.lifecycle.enter(ctx);
      checkDecoded(call.request);
      return handler(call.request, ctx);
    };
    run()
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback(statusFor(err, ctx)),
      )
      .finally(() => {
        ctx.dispose();
        inFlight?.leave();
      });
  };
}

export interface StreamOptions {
  /**
   * For a stream that never finishes by itself (a watch): the reason the call's signal aborts
   * with the moment the server starts draining, so the stream ends then, whatever it waits for,
   * instead of holding shutdown until the grace period is over.
   */
  readonly endOnDrain?: () => unknown;
}

/**
 * A server stream: `open` validates and returns the events in groups (errors thrown there become
 * the status before any message): the engine hands out a stream's events in the groups one
 * upstream read completed, each group one pull. Each event is encoded and written as the client
 * pulls, with no generator of our own between the engine's events and the grpc-js write.
 */
export function serverStream<Req, Event, Res>(
  deps: CallDeps,
  open: (request: Req, ctx: CallContext) => AsyncIterable<readonly Event[]>,
  encode: (event: Event, ctx: CallContext) => Res,
  options: StreamOptions = {},
): grpc.handleServerStreamingCall<Req, Res> {
  const { endOnDrain } = options;
  return (call) => {
    const ctx = createCallContext(call, deps.log, deps.defaultTimeoutMs);
    const drain = deps.lifecycle.drainSignal;
    const onDrain = endOnDrain && ((): void => ctx.abort(endOnDrain()));
    let inFlight: InFlight | undefined;
    const run = async (): Promise<void> => {
      inFlight = deps.lifecycle.enter(ctx);
      if (onDrain) drain.addEventListener('abort', onDrain, { once: true });
      checkDecoded(call.request);
      for await (const events of open(call.request, ctx)) {
        for (let i = 0; i < events.length; i++) {
          if (!call.write(encode(events[i]!, ctx))) await drained(call, ctx.signal);
        }
      }
    };
    run()
      .then(
        () => call.end(),
        (err: unknown) => {
          // The client is gone: nothing to send, but the call's record still takes the failure.
          if (call.cancelled) ctx.upstream?.failed?.(err);
          else call.emit('error', statusFor(err, ctx));
        },
      )
      .finally(() => {
        if (onDrain) drain.removeEventListener('abort', onDrain);
        ctx.dispose();
        inFlight?.leave();
      });
  };
}

/** Events one at a time, as groups of one, for a stream whose events come singly (Batch, WatchStats). */
export async function* singly<Event>(events: AsyncIterable<Event>): AsyncGenerator<readonly Event[]> {
  for await (const event of events) yield [event];
}

/**
 * Honours backpressure: once the buffer is full, wait for 'drain', or for the call's abort
 * (cancel, deadline, shutdown), after which 'drain' may never come. An abort ends the wait
 * without ending the stream: the stream's source sees the same abort and ends its own way
 * (a cut StreamChat with its attempts and partial usage, a Batch with its items' errors and its
 * summary), and what it still sends is queued.
 */
function drained<Res>(call: grpc.ServerWritableStream<unknown, Res>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      call.removeListener('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

function statusFor(err: unknown, ctx: ServerCallContext): Partial<grpc.StatusObject> {
  ctx.upstream?.failed?.(err);
  const status = toGrpcStatus(err);
  if (status.internal && !isLogged(err)) ctx.log.error({ err }, 'internal error');
  return { code: status.code, details: status.details, metadata: status.metadata };
}
