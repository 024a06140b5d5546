import type { AttemptRecord } from '../domain/chat.js';
import type { CallDetail } from './call-detail.js';

/**
 * The one event port. The engine and the doors in front of it (the gRPC server today) emit
 * what happened as one union; stats, metrics and anything else (a ledger) subscribe. A new
 * metric is a new case in its listener; a new fact is a new member here.
 */

export type CallKind = 'unary' | 'server_stream' | 'client_stream' | 'bidi_stream';

export interface StartedCall {
  /** Method path, e.g. "/orchestrator.v1.ChatService/Chat": always a registered method. */
  readonly path: string;
  /** The front door the call came through; HTTP calls are named by the gRPC method they map to. */
  readonly protocol: 'grpc' | 'http';
  readonly kind: CallKind;
}

export interface FinishedCall extends StartedCall {
  /** gRPC status code name: "OK", "NOT_FOUND", ... */
  readonly code: string;
  /** From the call's arrival to its status (or cancel). */
  readonly latencyMs: number;
  /** Wall time during which an upstream request of this call was open (CallSummary). */
  readonly upstreamMs: number;
  /**
   * Of `latencyMs`, the time the request took to arrive in full after its headers (an HTTP body or
   * a gRPC request message trickled by its client): the client's, so the gateway's overhead leaves
   * it out. 0 when unknown.
   */
  readonly receivingMs?: number | undefined;
  /** Upstream requests the call sent (0: answered without the upstream, or refused). */
  readonly upstreamRequests: number;
  /** Canonical id of the model that answered, when one did. */
  readonly model?: string | undefined;
  /** What the call asked and got, for listeners that keep records (the ledger). */
  readonly detail?: CallDetail | undefined;
}

export type GatewayEvent =
  /** A call arrived at a door (after its method was recognised). */
  | { readonly type: 'call_started'; readonly call: StartedCall }
  /** A call got its status (or was cancelled). */
  | { readonly type: 'call_finished'; readonly call: FinishedCall }
  /**
   * An upstream request ended, or a model was skipped (breaker open, no provider). A success
   * carries the upstream's finish reason (`record.finishReason`: stop, length, tool_calls, ...).
   */
  | { readonly type: 'attempt'; readonly record: AttemptRecord }
  | { readonly type: 'race_won'; readonly model: string }
  /**
   * A Fallback call ended: who answered (the first link, a later one, the default message), or
   * nobody (`failed`: every link failed, or the caller went away, and no default message was served).
   */
  | { readonly type: 'fallback'; readonly triggered: boolean; readonly defaultMessage: boolean; readonly failed?: boolean }
  /** StreamChat relayed its first token, `ms` after the call arrived. */
  | { readonly type: 'first_token'; readonly model: string; readonly ms: number }
  /** A retry the retry budget refused. */
  | { readonly type: 'retry_throttled' }
  /** A call that waited for, or was refused, a slot under its provider's cap on requests in flight. */
  | {
      readonly type: 'upstream_queue';
      readonly provider: string;
      readonly outcome: 'admitted' | 'rejected' | 'cancelled';
      readonly waitedMs: number;
    }
  /** A stream restarted on another model after a mid-stream failure. */
  | { readonly type: 'stream_restarted' }
  /** A routed request and the model ranked first. */
  | { readonly type: 'routed'; readonly profile: string; readonly model: string }
  /** A response-cache lookup: a fresh hit, a miss, or a stale answer served as offline fallback. */
  | { readonly type: 'cache_lookup'; readonly outcome: 'hit' | 'miss' | 'stale' }
  /** A call refused by access control (ErrorInfo reason: RATE_LIMITED, BUDGET_EXHAUSTED, ...). */
  | { readonly type: 'access_rejected'; readonly reason: string }
  /** A model left the catalog (deleted, or dropped by a sync): what is kept per model for it can go. */
  | { readonly type: 'model_removed'; readonly model: string };

export type GatewayListener = (event: GatewayEvent) => void;

/** Where events go: the engine and the doors only ever call `emit`. */
export interface EventSink {
  emit(event: GatewayEvent): void;
}

/**
 * The call waited in its provider's queue: one refused because the queue was full, or because its
 * deadline was too near to queue at all, did not, and counts as a refusal only.
 */
export function waitedForSlot(event: Extract<GatewayEvent, { readonly type: 'upstream_queue' }>): boolean {
  return event.outcome !== 'rejected' || event.waitedMs > 0;
}

/**
 * Synchronous fan-out to the subscribed listeners, in order, on the caller's path: a listener
 * must be quick, never block and never throw (a ledger queues and writes off the call's path).
 */
export class EventBus implements EventSink {
  private listeners: readonly GatewayListener[] = [];

  constructor(...listeners: readonly GatewayListener[]) {
    this.listeners = listeners;
  }

  /** Adds a listener; the function returned removes it. */
  subscribe(listener: GatewayListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(event: GatewayEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
