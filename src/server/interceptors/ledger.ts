import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { ObservedCall } from '../../store/ledger-listener.js';
import { decodeStatusDetails } from '../../cli/status-details.js';
import { callStateOf } from './call-state.js';

/**
 * Hands each finished call of the recorded methods to the ledger: its request, the messages it
 * answered with, and its status. Runs inside the call interceptor (the call's state is written);
 * it only copies references, the ledger does the rest off the call's path.
 */
export function ledgerInterceptor(record: (call: ObservedCall) => void, recorded: (path: string) => boolean): grpc.ServerInterceptor {
  return (method, call) => {
    if (!recorded(method.path)) return new grpc.ServerInterceptingCall(call);
    const startedAt = Date.now();
    const started = performance.now();
    let requestId = '';
    let keyName: string | undefined;
    let request: unknown;
    const responses: unknown[] = [];
    let done = false;
    const finish = (code: grpc.status, trailers: grpc.Metadata | undefined): void => {
      if (done) return;
      done = true;
      const errorInfo = trailers && code !== grpc.status.OK ? decodeStatusDetails(trailers).errorInfo : undefined;
      record({
        path: method.path,
        startedAt,
        latencyMs: performance.now() - started,
        requestId,
        keyName,
        code: grpc.status[code] ?? String(code),
        errorInfo: errorInfo ? { reason: errorInfo.reason, metadata: errorInfo.metadata } : undefined,
        request,
        responses,
      });
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const state = callStateOf(metadata);
        if (state) {
          requestId = state.requestId;
          keyName = state.principal?.name;
        }
        next(metadata);
      })
      .withOnReceiveMessage((message, next) => {
        request ??= message;
        next(message);
      })
      .withOnCancel(() => {
        const deadline = call.getDeadline();
        const at = deadline instanceof Date ? deadline.getTime() : deadline;
        finish(Date.now() >= at ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED, undefined);
      })
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendMessage((message, next) => {
        responses.push(message);
        next(message);
      })
      .withSendStatus((status, next) => {
        finish(status.code, status.metadata ?? undefined);
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
