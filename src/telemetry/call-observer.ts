import type { EventSink } from '../engine/index.js';
import type { FinishedCall, StartedCall } from '../engine/index.js';

export type { CallKind, FinishedCall, StartedCall } from '../engine/index.js';

/** What the logging interceptor tells telemetry about every gRPC call. */
export interface CallObserver {
  callStarted?(call: StartedCall): void;
  recordCall(call: FinishedCall): void;
  /** The records of calls keep their answers' text (UpstreamObserver.keepsAnswerText). */
  readonly keepsAnswerText?: boolean;
}

/** The interceptor's observer as events on the port, where stats and metrics listen. */
export function callObserverOf(events: EventSink, keepsAnswerText = false): CallObserver {
  return {
    callStarted: (call) => events.emit({ type: 'call_started', call }),
    recordCall: (call) => events.emit({ type: 'call_finished', call }),
    keepsAnswerText,
  };
}
