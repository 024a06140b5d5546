import type { ChatInput } from '../domain/chat.js';
import type { Answer } from './answer.js';
import type { CallContext } from './context.js';
import type { RoutingProfileName } from './routing/profiles.js';
import type { RouteDecision } from './routing/router.js';
import type { BatchWork } from './strategies/batch.js';

/**
 * What each engine method takes: one request object, the call's context included, so every
 * door (gRPC today, HTTP next) fills the same fields and the methods read alike.
 */

/** A requested model name and the request field it came from, for error details. */
export interface ModelRef {
  readonly name: string;
  readonly field: string;
}

/** A routed request: the profile and, optionally, the only models to consider. */
export interface RouteRequest {
  readonly profile: RoutingProfileName;
  readonly candidates: readonly ModelRef[];
}

/** How Chat uses the response cache. */
export interface CachePolicy {
  /** auto: only deterministic requests (temperature 0, sent to the model); use: this request too; bypass: do not read, refresh. */
  readonly mode: 'auto' | 'use' | 'bypass';
  /** When every upstream attempt fails, serve an expired cached answer, marked stale. */
  readonly allowStale: boolean;
  /** Never serve a stale answer, even under the server's offline fallback policy; wins over allowStale. */
  readonly refuseStale?: boolean | undefined;
}

export const DEFAULT_CACHE_POLICY: CachePolicy = { mode: 'auto', allowStale: false };

/** Chat: one model (an empty name means the default), or a route whose ranking is the chain. */
export interface ChatCall {
  readonly model: ModelRef;
  readonly input: ChatInput;
  readonly ctx: CallContext;
  /** Set: the profile ranks the candidates and the ranking is a fallback chain; `model` is ignored. */
  readonly route?: RouteRequest | undefined;
  readonly cache?: CachePolicy | undefined;
}

/** A Chat answer; `decision` is set on a routed call. */
export interface ChatAnswer extends Answer {
  readonly decision?: RouteDecision | undefined;
}

export type StreamMode = 'single' | 'fallback' | 'race';

export interface StreamTarget {
  readonly mode: StreamMode;
  readonly models: readonly ModelRef[];
  readonly hedgeDelayMs: number | undefined;
  readonly restartOnFailure: boolean;
  readonly firstTokenTimeoutMs: number | undefined;
  readonly interTokenTimeoutMs: number | undefined;
  /** Set: the ranking of this route is the chain (mode must be 'fallback'). */
  readonly route?: RouteRequest | undefined;
}

export interface StreamCall {
  readonly model: ModelRef;
  readonly target: StreamTarget;
  readonly input: ChatInput;
  readonly ctx: CallContext;
  /** Never serve a stale cached answer, even under the server's offline fallback policy. */
  readonly refuseStale?: boolean | undefined;
}

/** Race: `racers` empty means the model (or the default) and its configured fallbacks race. */
export interface RaceCall {
  readonly model: ModelRef;
  readonly racers: readonly ModelRef[];
  readonly hedgeDelayMs: number | undefined;
  readonly input: ChatInput;
  readonly ctx: CallContext;
  /** Never serve a stale cached answer, even under the server's offline fallback policy. */
  readonly refuseStale?: boolean | undefined;
}

export interface FallbackTarget {
  readonly chain: readonly ModelRef[];
  readonly attemptTimeoutMs: number | undefined;
  readonly defaultMessage: string | undefined;
  readonly disableDefaultMessage: boolean;
}

/** Fallback: `chain` empty means the model (or the default) and its configured fallbacks. */
export interface FallbackCall extends FallbackTarget {
  readonly model: ModelRef;
  readonly input: ChatInput;
  readonly ctx: CallContext;
  /** Never serve a stale cached answer, even under the server's offline fallback policy. */
  readonly refuseStale?: boolean | undefined;
}

export interface BatchCall<A extends Answer = Answer> {
  readonly items: readonly BatchWork<A>[];
  /** Items of this batch running at once. */
  readonly concurrency: number;
  readonly ctx: CallContext;
}

/** How a profile ranks the candidates for these messages. */
export interface RankCall {
  readonly route: RouteRequest;
  readonly input: ChatInput;
  /** The caller's call: admitted like any other; models its key may not call are excluded. */
  readonly ctx: CallContext;
  /** Rank for a StreamChat (time to first token weighs more). */
  readonly streaming?: boolean;
}
