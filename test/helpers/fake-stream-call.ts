import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';

export type EndStatus = Partial<grpc.StatusObject>;

/**
 * A server-streaming call as grpc-js hands it to a handler, without a server. `reading: false`
 * is a client that has stopped reading: every write reports a full buffer and 'drain' never
 * comes. `ended` resolves with the status the handler ends the call with (OK for end()).
 */
export function fakeStreamCall<Req, Res>(request: Req, options: { reading: boolean; path: string; deadline?: grpc.Deadline }) {
  const written: Res[] = [];
  let settle: (status: EndStatus) => void = () => undefined;
  const ended = new Promise<EndStatus>((resolve) => {
    settle = resolve;
  });
  const emitter = new EventEmitter();
  const call = Object.assign(emitter, {
    request,
    metadata: new grpc.Metadata(),
    cancelled: false,
    getDeadline: (): grpc.Deadline => options.deadline ?? Infinity,
    getPath: (): string => options.path,
    write: (message: Res): boolean => {
      written.push(message);
      return options.reading;
    },
    end: (): void => settle({ code: grpc.status.OK }),
  });
  emitter.on('error', (status: EndStatus) => settle(status));
  return {
    call: call as unknown as grpc.ServerWritableStream<Req, Res>,
    ended,
    written,
    /** What grpc-js does when the client cancels. */
    cancel: (): void => {
      call.cancelled = true;
      emitter.emit('cancelled', 'cancelled');
    },
  };
}

/** `promise`, or 'still running' if it has not settled within `ms`. */
export function within<T>(ms: number, promise: Promise<T>): Promise<T | 'still running'> {
  return Promise.race([promise, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms))]);
}
