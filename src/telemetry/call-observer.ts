/** What the logging interceptor tells telemetry about every gRPC call (stats, metrics). */

export type CallKind = 'unary' | 'server_stream' | 'client_stream' | 'bidi_stream';

export interface StartedCall {
  /** gRPC method path, e.g. "/orchestrator.v1.ChatService/Chat": always a registered method. */
  readonly path: string;
  readonly kind: CallKind;
}

export interface FinishedCall extends StartedCall {
  /** gRPC status code name: "OK", "NOT_FOUND", ... */
  readonly code: string;
  /** From the call's arrival to its status (or cancel). */
  readonly latencyMs: number;
  /** Wall time during which an upstream request of this call was open (CallSummary). */
  readonly upstreamMs: number;
  /** Upstream requests the call sent (0: answered without the upstream, or refused). */
  readonly upstreamRequests: number;
  /** Canonical id of the model that answered, when one did. */
  readonly model?: string | undefined;
}

export interface CallObserver {
  callStarted?(call: StartedCall): void;
  recordCall(call: FinishedCall): void;
}

/** One observer that forwards to several. */
export function teeCallObservers(...observers: readonly CallObserver[]): CallObserver {
  return {
    callStarted: (call) => {
      for (const observer of observers) observer.callStarted?.(call);
    },
    recordCall: (call) => {
      for (const observer of observers) observer.recordCall(call);
    },
  };
}
