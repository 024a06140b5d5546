import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { REQUEST_ID_KEY } from './metadata-keys.js';

export interface CallObserver {
  recordCall(path: string, ok: boolean, latencyMs: number): void;
}

/**
 * One log line per call: method, status code, duration, request id, peer. A client cancel or
 * an expired deadline never reaches sendStatus (grpc-js only calls onCancel), so those are
 * logged from onCancel, told apart by the deadline.
 */
export function loggingInterceptor(log: Logger, observer: CallObserver): grpc.ServerInterceptor {
  return (method, call) => {
    const started = performance.now();
    let requestId = '';
    let done = false;
    const finish = (code: grpc.status, details: string | undefined): void => {
      if (done) return;
      done = true;
      const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      observer.recordCall(method.path, code === grpc.status.OK, durationMs);
      const line = {
        method: method.path,
        code: grpc.status[code],
        durationMs,
        requestId,
        peer: call.getPeer(),
      };
      if (code === grpc.status.OK) log.info(line, 'call');
      else if (code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN) log.error({ ...line, details }, 'call');
      else log.warn({ ...line, details }, 'call');
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const id = metadata.get(REQUEST_ID_KEY)[0];
        if (typeof id === 'string') requestId = id;
        next(metadata);
      })
      .withOnCancel(() => {
        const deadline = call.getDeadline();
        const at = deadline instanceof Date ? deadline.getTime() : deadline;
        finish(Date.now() >= at ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED, 'ended by the client or its deadline');
      })
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        finish(status.code, status.details);
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
