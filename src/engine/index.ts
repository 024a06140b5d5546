/**
 * The engine's only door. Everything outside src/engine imports from here: the Engine and its
 * request and answer types, the ports other layers implement (providers, access control, the
 * response cache), the event port (EventBus) every listener subscribes to, and the few building blocks tools and tests use directly.
 */
export { Engine, type EngineOptions } from './engine.js';
export {
  DEFAULT_CACHE_POLICY,
  type BatchCall,
  type CachePolicy,
  type ChatAnswer,
  type ChatCall,
  type FallbackCall,
  type FallbackTarget,
  type ModelRef,
  type RaceCall,
  type RankCall,
  type RouteRequest,
  type StreamCall,
  type StreamMode,
  type StreamTarget,
} from './requests.js';
export type { Answer, FallbackAnswer } from './answer.js';
export type { BatchItemFacts, CallAnswer, CallDetail, CallRequestFacts, RelayedSoFar } from './call-detail.js';
export { answerRecord } from './call-detail.js';
export type { CallContext, UpstreamAttempt, UpstreamObserver, UpstreamRequest } from './context.js';
export {
  EventBus,
  type CallKind,
  type EventSink,
  type FinishedCall,
  type GatewayEvent,
  type GatewayListener,
  type StartedCall,
  waitedForSlot,
} from './events.js';
export { BAD_TOKEN_ID, firstBadTokenId, MAX_EMBED_INPUTS, type EmbedAnswer, type EmbedCall } from './strategies/embed.js';
export type { EngineStreamEvent } from './strategies/stream.js';
export type { BatchEvent, BatchWork } from './strategies/batch.js';
export type {
  AccessControl,
  AccessTicket,
  AnswerCache,
  CachedAnswer,
  ProviderLookup,
} from './ports.js';
export type { BreakerState } from './resilience/breakers.js';
export type { InFlightLimits, InFlightReading } from './resilience/in-flight.js';
export type { RouteDecision, ScoredModel } from './routing/router.js';
export type { Complexity, SizedMessage } from './routing/complexity.js';
export {
  DEFAULT_PROFILE_WEIGHTS,
  effectiveWeights,
  profileSpelling,
  ROUTING_PROFILES,
  type ProfileWeights,
  type RoutingProfileName,
} from './routing/profiles.js';

// Building blocks of routing, for tests and tools that exercise them alone.
export { Router } from './routing/router.js';
export { LiveModelStats } from './routing/live-stats.js';
export { classifyComplexity, loadTokenizer, tokenizerLoaded } from './routing/complexity.js';
